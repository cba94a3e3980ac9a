// The launch buttons and the progress of a launch, over the webclient socket's `launchSession`.
import { PROGRESS_STEPS } from '@visp/contracts/vocabulary';
import type { WebclientSocket } from '../socket';
import { element, say, show } from '../dom';

export class Launchers {
  private launching = false;
  private connected = false;

  constructor(
    private readonly socket: WebclientSocket,
    /** Re-reads the sessions (a launch ended, one way or another). */
    private readonly refresh: () => Promise<void>,
  ) {}

  /** One button per session type. */
  draw(types: readonly string[]): void {
    element('launchers').replaceChildren(
      ...types.map((type) => {
        const made = document.createElement('button');
        made.type = 'button';
        made.textContent = `Launch ${type}`;
        made.onclick = () => this.launch(type);
        return made;
      }),
    );
    this.enable();
  }

  /** Commands go over the socket: without it the buttons are off, and on again when it is back. */
  setConnected(connected: boolean): void {
    this.connected = connected;
    this.enable();
  }

  private enable(): void {
    for (const made of element('launchers').querySelectorAll('button')) made.disabled = this.launching || !this.connected;
  }

  private launch(type: string): void {
    const bar = element<HTMLProgressElement>('progress-bar');
    const label = element('progress-label');
    bar.max = PROGRESS_STEPS.length - 1;
    bar.value = 0;
    label.textContent = `Starting ${type}…`;
    show('launch-progress', true);
    const finish = (text: string, status: string) => {
      label.textContent = text;
      say(status);
      this.launching = false;
      this.enable();
      void this.refresh();
    };
    const sent = this.socket.command('launchSession', { type }, (reply) => {
      const step = (reply.data as { step?: string } | undefined)?.step;
      const at = PROGRESS_STEPS.findIndex((s) => s === step);
      if (at >= 0) bar.value = Math.max(bar.value, at);
      if (reply.progress === 'update') label.textContent = reply.message;
      else if (reply.progress === 'end') {
        bar.value = bar.max;
        finish(`${type} is ready`, `Your ${type} session is ready.`);
      } else finish(`Could not start ${type}`, reply.message);
    });
    if (!sent) return finish(`Could not start ${type}`, 'Not connected to the server; try again when it is back.');
    this.launching = true;
    this.enable();
  }
}
