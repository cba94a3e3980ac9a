// A project's bundles on a real file system: the recording found where VISP keeps it, and every way a name or a
// file in the repository (which sessions, that is users, write) might lead the gateway elsewhere refused.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AppError } from '@visp/service-kit';
import { bundleDirName, isSafeSegment, ProjectBundles, type BundleRef } from './bundles';

let root: string;
let outside: string;
let bundles: ProjectBundles;
const WAV = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVE'), Buffer.alloc(64)]);
const ref = (over: Partial<BundleRef> = {}): BundleRef => ({ project: 'p1', session: 'Session 1', bundle: 'talk.wav', ...over });
const emu = (...parts: string[]) => path.join(root, 'p1', 'Data', 'VISP_emuDB', ...parts);

/** The AppError code `work` fails with. */
async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  throw new Error('it did not fail');
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'visp-bundles-'));
  outside = mkdtempSync(path.join(tmpdir(), 'visp-outside-'));
  mkdirSync(emu('Session 1_ses', 'talk_bndl'), { recursive: true });
  writeFileSync(emu('Session 1_ses', 'talk_bndl', 'talk.wav'), WAV);
  writeFileSync(path.join(outside, 'secret.wav'), WAV);
  bundles = new ProjectBundles(root);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('names', () => {
  it.each([
    ['talk.wav', true],
    ['Session 1', true],
    ['inspelning-2024_01 (kopia).wav', true],
    ['åäö.wav', true],
    ['..', false],
    ['.', false],
    ['.hidden.wav', false],
    ['../talk.wav', false],
    ['a/b.wav', false],
    ['a\\b.wav', false],
    ['a..b', false],
    ['nul\u0000.wav', false],
    ['line\nbreak.wav', false],
    ['', false],
    ['x'.repeat(256), false],
  ])('%j is a plain segment: %s', (name, safe) => {
    expect(isSafeSegment(name)).toBe(safe);
  });

  it("names a bundle's directory after the bundle without its extension, as VISP", () => {
    expect(bundleDirName('talk.wav')).toBe('talk_bndl');
    expect(bundleDirName('take.2.flac')).toBe('take.2_bndl');
    expect(bundleDirName('noext')).toBe('noext_bndl');
  });
});

describe('ProjectBundles.copyRecording', () => {
  it("copies the bundle's recording from the project's emuDB", async () => {
    const to = path.join(outside, 'copy');
    expect(await bundles.copyRecording(ref(), to, 1 << 20, 'too large')).toBe(WAV.length);
    expect(readFileSync(to)).toEqual(WAV);
  });

  it('refuses a recording larger than the room left, and an empty one', async () => {
    expect(await codeOf(bundles.copyRecording(ref(), path.join(outside, 'copy'), 10, 'too large'))).toBe('payload_too_large');
    writeFileSync(emu('Session 1_ses', 'talk_bndl', 'talk.wav'), '');
    expect(await codeOf(bundles.copyRecording(ref(), path.join(outside, 'copy'), 1 << 20, 'too large'))).toBe('unprocessable');
  });

  it.each([
    ['a session that climbs out', { session: '../../..' }],
    ['a session with a slash', { session: 'Session 1_ses/../..' }],
    ['a bundle that climbs out', { bundle: '../../../../../etc/passwd' }],
    ['a hidden bundle', { bundle: '.talk.wav' }],
    ['a bundle with NUL', { bundle: 'talk.wav\u0000.txt' }],
    ['a project that is not one segment', { project: '../p1' }],
    ['a bundle that is only an extension', { bundle: '.wav' }],
  ])('refuses %s before touching the disk', async (_what, over) => {
    expect(await codeOf(bundles.openRecording(ref(over)))).toBe('validation_failed');
  });

  it('reads an encoded name literally, never decoding it', async () => {
    expect(await codeOf(bundles.openRecording(ref({ session: '%2e%2e%2f%2e%2e', bundle: '%2e%2e%2fetc%2fpasswd' })))).toBe('not_found');
  });

  it('refuses a symlink in the bundle directory, even to a file that exists (/etc/passwd)', async () => {
    symlinkSync('/etc/passwd', emu('Session 1_ses', 'talk_bndl', 'passwd.wav'));
    mkdirSync(emu('Session 1_ses', 'passwd_bndl'));
    symlinkSync('/etc/passwd', emu('Session 1_ses', 'passwd_bndl', 'passwd.wav'));
    expect(await codeOf(bundles.openRecording(ref({ bundle: 'passwd.wav' })))).toBe('unprocessable');
  });

  it('refuses a bundle directory that is a symlink, and a path that leads outside the project through a symlink higher up', async () => {
    mkdirSync(path.join(outside, 'secret_bndl'));
    writeFileSync(path.join(outside, 'secret_bndl', 'secret.wav'), WAV);
    symlinkSync(path.join(outside, 'secret_bndl'), emu('Session 1_ses', 'secret_bndl'));
    expect(await codeOf(bundles.openRecording(ref({ bundle: 'secret.wav' })))).toBe('unprocessable');
    // `Data/VISP_emuDB/Other_ses` → a directory outside the project (another project's repository, say).
    mkdirSync(path.join(outside, 'Other_ses', 'secret_bndl'), { recursive: true });
    writeFileSync(path.join(outside, 'Other_ses', 'secret_bndl', 'secret.wav'), WAV);
    symlinkSync(path.join(outside, 'Other_ses'), emu('Other_ses'));
    expect(await codeOf(bundles.openRecording(ref({ session: 'Other', bundle: 'secret.wav' })))).toBe('forbidden');
    expect(await codeOf(bundles.readTranscripts(ref({ session: 'Other', bundle: 'secret.wav' })))).toBe('forbidden');
    expect(await codeOf(bundles.writeTranscripts(ref({ session: 'Other', bundle: 'secret.wav' }), { srt: 'x', text: 'x' }))).toBe('forbidden');
    expect(readdirSync(path.join(outside, 'Other_ses', 'secret_bndl'))).toEqual(['secret.wav']);
  });

  it('refuses a directory and a FIFO in place of the recording, without blocking on the FIFO', async () => {
    mkdirSync(emu('Session 1_ses', 'dir_bndl', 'dir.wav'), { recursive: true });
    expect(await codeOf(bundles.openRecording(ref({ bundle: 'dir.wav' })))).toBe('unprocessable');
    mkdirSync(emu('Session 1_ses', 'pipe_bndl'));
    execFileSync('mkfifo', [emu('Session 1_ses', 'pipe_bndl', 'pipe.wav')]);
    expect(await codeOf(bundles.openRecording(ref({ bundle: 'pipe.wav' })))).toBe('unprocessable');
  });

  it('says what is missing: the project, the bundle, the recording', async () => {
    expect(await codeOf(bundles.openRecording(ref({ project: 'p2' })))).toBe('not_found');
    expect(await codeOf(bundles.openRecording(ref({ bundle: 'other.wav' })))).toBe('not_found');
    mkdirSync(emu('Session 1_ses', 'empty_bndl'));
    expect(await codeOf(bundles.openRecording(ref({ bundle: 'empty.wav' })))).toBe('not_found');
  });

  it('is unavailable without a repositories directory', async () => {
    expect(await codeOf(new ProjectBundles(undefined).openRecording(ref()))).toBe('unavailable');
  });
});

describe('ProjectBundles transcripts', () => {
  it('reads missing transcripts as empty, as VISP', async () => {
    expect(await bundles.readTranscripts(ref())).toEqual({ srt: '', text: '' });
    expect(await bundles.readTranscripts(ref({ bundle: 'gone.wav' }))).toEqual({ srt: '', text: '' });
  });

  it('writes both beside the bundle, replacing what was there, leaving no partial file', async () => {
    await bundles.writeTranscripts(ref(), { srt: 'old', text: 'old' });
    await bundles.writeTranscripts(ref(), { srt: '1\n00:00:00,000 --> 00:00:01,000\nhello\n', text: 'hello\n' });
    expect(readdirSync(emu('Session 1_ses', 'talk_bndl')).sort()).toEqual(['talk.wav', 'transcription.srt', 'transcription.txt']);
    expect(await bundles.readTranscripts(ref())).toEqual({ srt: '1\n00:00:00,000 --> 00:00:01,000\nhello\n', text: 'hello\n' });
  });

  it('replaces a symlink left in place of a transcript instead of writing through it, and never reads through one', async () => {
    const victim = path.join(outside, 'victim.txt');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, emu('Session 1_ses', 'talk_bndl', 'transcription.txt'));
    expect(await bundles.readTranscripts(ref())).toEqual({ srt: '', text: '' });
    await bundles.writeTranscripts(ref(), { srt: 's', text: 't' });
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(lstatSync(emu('Session 1_ses', 'talk_bndl', 'transcription.txt')).isFile()).toBe(true);
    expect(readFileSync(emu('Session 1_ses', 'talk_bndl', 'transcription.txt'), 'utf8')).toBe('t');
  });

  it('does not write for a bundle that is gone', async () => {
    expect(await codeOf(bundles.writeTranscripts(ref({ bundle: 'gone.wav' }), { srt: 's', text: 't' }))).toBe('not_found');
    expect(existsSync(emu('Session 1_ses', 'gone_bndl'))).toBe(false);
  });
});
