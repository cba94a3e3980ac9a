import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pythonOf } from './warm-whisper';

describe('pythonOf', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'visp-python-of-'));
  const venvBin = path.join(root, 'venv/bin');
  const linkDir = path.join(root, 'links');

  beforeAll(() => {
    mkdirSync(venvBin, { recursive: true });
    mkdirSync(linkDir);
    writeFileSync(path.join(venvBin, 'whisper-ctranslate2'), '#!/bin/sh\n');
    chmodSync(path.join(venvBin, 'whisper-ctranslate2'), 0o755);
    // As pipx installs it: a link on PATH to the script in its venv.
    symlinkSync(path.join(venvBin, 'whisper-ctranslate2'), path.join(linkDir, 'whisper-ctranslate2'));
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is the python3 of the venv whose script the setting names, by path or on PATH through links', () => {
    const python = path.join(venvBin, 'python3');
    expect(pythonOf(path.join(venvBin, 'whisper-ctranslate2'))).toBe(python);
    expect(pythonOf('whisper-ctranslate2', `/nonexistent:${linkDir}`)).toBe(python);
  });

  it('is the interpreter the script names on its first lines, as pip writes them (pip --user: the system Python)', () => {
    const script = (name: string, text: string) => {
      const file = path.join(root, name);
      writeFileSync(file, text);
      chmodSync(file, 0o755);
      return file;
    };
    expect(pythonOf(script('user-install', '#!/usr/bin/python3\n# -*- coding: utf-8 -*-\nimport re\n'))).toBe('/usr/bin/python3');
    expect(pythonOf(script('venv-install', '#!/opt/whisper/venv/bin/python3.11\nimport sys\n'))).toBe('/opt/whisper/venv/bin/python3.11');
    expect(pythonOf(script('env-install', '#!/usr/bin/env python3\nimport sys\n'))).toBe('python3');
    expect(pythonOf(script('long-path', `#!/bin/sh\n'''exec' "/a/very/long/path/bin/python" "$0" "$@"\n' '''\nimport sys\n`))).toBe('/a/very/long/path/bin/python');
  });

  it('is a clear, retryable engine failure when the script is nowhere', () => {
    expect(() => pythonOf('whisper-ctranslate2', '/nonexistent')).toThrow(expect.objectContaining({ code: 'engine-failed', message: 'the Whisper engine whisper-ctranslate2 is not installed' }));
    expect(() => pythonOf(path.join(root, 'missing'))).toThrow(/is not installed/);
  });
});
