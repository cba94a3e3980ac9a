import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TranscriptionFiles } from './files';

describe('TranscriptionFiles.readResult', () => {
  const id = '0123456789abcdef01234567';
  let root: string;
  let files: TranscriptionFiles;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'visp-files-'));
    files = new TranscriptionFiles(root);
    await files.prepare(id);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('reads back what writeResult wrote', async () => {
    const transcript = { text: 'hello', language: 'en', duration: 1, segments: [{ start: 0, end: 1, text: 'hello' }] };
    await files.writeResult(id, JSON.stringify(transcript));
    await expect(files.readResult(id)).resolves.toMatchObject(transcript);
  });

  it('is undefined when no result was written', async () => {
    await expect(files.readResult(id)).resolves.toBeUndefined();
  });

  it.each([
    ['not JSON', '{"text": "hal'],
    ['not a transcript', '{"words": []}'],
  ])('is undefined when the file is %s', async (_what, text) => {
    await writeFile(files.result(id), text);
    await expect(files.readResult(id)).resolves.toBeUndefined();
  });

  it('throws when the file cannot be read for another reason than its absence', async () => {
    await mkdir(files.result(id));
    await expect(files.readResult(id)).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('refuses an id that is not one', async () => {
    await expect(files.readResult('../etc')).rejects.toThrow();
  });
});
