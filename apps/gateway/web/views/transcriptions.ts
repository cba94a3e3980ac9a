// The user's transcriptions: the upload form, the jobs table, and progress pushed on the socket.
import { PENDING_TRANSCRIPTION_STATES, TRANSCRIPT_FORMATS } from '@visp/contracts/vocabulary';
import type { TranscriptionView } from '@visp/contracts';
import { api, upload } from '../api';
import { button, element, linkButton, messageOf, say } from '../dom';
import { newestOnly, renderTable, type Column } from '../table';

const PENDING = new Set<string>(PENDING_TRANSCRIPTION_STATES);

function jobColumns(refresh: () => Promise<void>): Column<TranscriptionView>[] {
  const cancel = async (job: TranscriptionView) => {
    await api('DELETE', `/api/v1/transcriptions/${job.id}`).catch((err: unknown) => say(messageOf(err)));
    await refresh();
  };
  return [
    { cell: (job) => job.filename },
    {
      cell: (job) => (job.error ? `${job.state}: ${job.error.message}` : `${job.state}${job.state === 'queued' && job.queuePosition ? ` (number ${job.queuePosition} in line)` : ''}`),
      className: (job) => `state-${job.state}`,
    },
    {
      cell: (job) => {
        const bar = document.createElement('progress');
        bar.max = 1;
        bar.value = job.progress;
        bar.setAttribute('aria-label', `Progress of ${job.filename}`);
        return [bar];
      },
    },
    {
      className: () => 'actions',
      cell: (job) => [
        ...(job.state === 'completed'
          ? TRANSCRIPT_FORMATS.map((format) => linkButton(format.toUpperCase(), `Download ${job.filename} as ${format.toUpperCase()}`, `/api/v1/transcriptions/${job.id}/result?format=${format}`, { download: '' }))
          : []),
        ...(PENDING.has(job.state) ? [button('Cancel', `Cancel the transcription of ${job.filename}`, () => void cancel(job))] : []),
      ],
    },
  ];
}

export class Transcriptions {
  /** Redraws the jobs table; the newest call wins. */
  readonly refresh: () => Promise<void> = newestOnly(
    () => api<{ transcriptions: TranscriptionView[] }>('GET', '/api/v1/transcriptions'),
    ({ transcriptions }) => renderTable('jobs', transcriptions.slice(0, 20), jobColumns(this.refresh), (job) => job.id, 'no-jobs'),
  );

  /** Uploads over HTTP, then follows the job by its pushed events. */
  listen(): void {
    element<HTMLFormElement>('upload').onsubmit = async (event) => {
      event.preventDefault();
      const form = event.target as HTMLFormElement;
      const fields = new FormData(form);
      if (!String(fields.get('language') ?? '').trim()) fields.delete('language');
      const submit = form.querySelector('button') as HTMLButtonElement;
      submit.disabled = true;
      try {
        await upload('/api/v1/transcriptions', fields);
        say('Uploaded; the transcription is queued.');
        form.reset();
      } catch (err) {
        say(messageOf(err));
      } finally {
        submit.disabled = false;
      }
      await this.refresh();
    };
  }

  /** A pushed progress figure, shown in place without re-reading the list. */
  progress(id: string, progress: number): void {
    const bar = document.querySelector<HTMLProgressElement>(`#jobs tr[data-key="${CSS.escape(id)}"] progress`);
    if (bar) bar.value = progress;
  }
}
