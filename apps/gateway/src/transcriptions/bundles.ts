// A project's bundles, as VISP keeps them: `<PROJECT_REPOSITORIES_DIR>/<project>/Data/VISP_emuDB/<session>_ses/
// <bundle sans extension>_bndl/<bundle>`, with the transcripts VISP's client reads beside the recording
// (`transcription.srt`, `transcription.txt`). The repositories are written by the projects' sessions, that is by
// users: every name is checked to be one plain path segment, the bundle's directory is opened without following a
// final symlink and must really be inside the project's directory (checked on the opened directory, through
// /proc/self/fd, so a symlink swapped in after the check changes nothing), and only regular files are read.
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { lstat, open, readlink, realpath, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ProjectIdSchema, type TranscriptionOrigin } from '@visp/contracts';
import { AppError } from '@visp/service-kit';

export type BundleRef = Pick<TranscriptionOrigin, 'project' | 'session' | 'bundle'>;

/** The files VISP's client reads a bundle's transcript from. */
export const TRANSCRIPT_FILES = { srt: 'transcription.srt', text: 'transcription.txt' } as const;

/** A transcript larger than this beside a bundle is not read back (Whisper's for a 4-hour recording is far less). */
const MAX_TRANSCRIPT_BYTES = 16 * 1024 * 1024;

/**
 * Whether `name` may be an emuDB session's or bundle's name, that is one path segment naming something plain: no
 * `/` or `\`, no NUL or other control character, no `..` anywhere, not starting with `.` (so never `.` or `..`
 * or a hidden file), at most 255 bytes. Letters of any script, digits, spaces and punctuation otherwise pass:
 * VISP names bundles after the files people recorded.
 */
export function isSafeSegment(name: string): boolean {
  if (name.length === 0 || Buffer.byteLength(name) > 255) return false;
  if (name.startsWith('.') || name.includes('..')) return false;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return !/[/\\\u0000-\u001f\u007f]/.test(name);
}

/** The bundle's directory name: `<bundle sans its extension>_bndl` (VISP: `path.parse(bundle).name`). */
export function bundleDirName(bundle: string): string {
  return `${path.parse(bundle).name}_bndl`;
}

/** The path of an opened file or directory as the kernel sees it (Linux: /proc/self/fd). */
const fdPath = (handle: FileHandle) => `/proc/self/fd/${handle.fd}`;

const inside = (parent: string, child: string) => child.startsWith(parent.endsWith(path.sep) ? parent : `${parent}${path.sep}`);

const errnoOf = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;

/**
 * The projects' bundles under one repositories directory (PROJECT_REPOSITORIES_DIR); `root` undefined means this
 * server has none, and every operation says so.
 */
export class ProjectBundles {
  constructor(readonly root: string | undefined) {}

  /**
   * Opens a bundle's recording for reading: a regular file inside the project's directory, never a symlink, a
   * directory, a device or a FIFO. The caller closes the handle.
   */
  async openRecording(ref: BundleRef): Promise<{ handle: FileHandle; sizeBytes: number }> {
    const dir = await this.openBundleDir(ref);
    if (!dir) throw new AppError('not_found', `the bundle ${ref.bundle} of session ${ref.session} is not in project ${ref.project}'s emuDB`);
    try {
      const file = `${fdPath(dir)}/${ref.bundle}`;
      const before = await lstat(file).catch((err: unknown) => {
        if (errnoOf(err) === 'ENOENT') throw new AppError('not_found', `the bundle ${ref.bundle} has no recording ${ref.bundle} in its directory`);
        throw err;
      });
      if (!before.isFile()) throw new AppError('unprocessable', `the bundle's recording ${ref.bundle} is not a regular file`);
      // O_NOFOLLOW and O_NONBLOCK: what was swapped in since the lstat (a symlink, a FIFO) neither leads elsewhere
      // nor blocks; the handle is then checked to be the very file that was looked at.
      const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: unknown) => {
        if (errnoOf(err) === 'ELOOP' || errnoOf(err) === 'ENOENT') throw new AppError('unprocessable', `the bundle's recording ${ref.bundle} is not a regular file`);
        throw err;
      });
      try {
        const stat = await handle.stat();
        if (!stat.isFile() || stat.ino !== before.ino || stat.dev !== before.dev) throw new AppError('unprocessable', `the bundle's recording ${ref.bundle} is not a regular file`);
        return { handle, sizeBytes: stat.size };
      } catch (err) {
        await handle.close();
        throw err;
      }
    } finally {
      await dir.close();
    }
  }

  /** Copies a bundle's recording to `destination` (created, never overwritten), at most `maxBytes` of it. */
  async copyRecording(ref: BundleRef, destination: string, maxBytes: number, tooLarge: string): Promise<number> {
    const { handle, sizeBytes } = await this.openRecording(ref);
    try {
      if (sizeBytes === 0) throw new AppError('unprocessable', `the bundle's recording ${ref.bundle} is empty`);
      if (sizeBytes > maxBytes) throw new AppError('payload_too_large', tooLarge);
      await pipeline(handle.createReadStream({ start: 0, end: sizeBytes - 1, autoClose: false }), createWriteStream(destination, { flags: 'wx', mode: 0o600 }));
      return sizeBytes;
    } finally {
      await handle.close();
    }
  }

  /** The transcripts beside a bundle, as VISP's client reads them: a missing (or unreadable) one is empty. */
  async readTranscripts(ref: BundleRef): Promise<{ srt: string; text: string }> {
    const dir = await this.openBundleDir(ref);
    if (!dir) return { srt: '', text: '' };
    try {
      const [srt, text] = await Promise.all([readSmallFile(`${fdPath(dir)}/${TRANSCRIPT_FILES.srt}`), readSmallFile(`${fdPath(dir)}/${TRANSCRIPT_FILES.text}`)]);
      return { srt, text };
    } finally {
      await dir.close();
    }
  }

  /**
   * Writes the transcripts beside a bundle, each whole or not at all: to a new hidden name in the same directory
   * (created exclusively, so never through a symlink someone left there), then renamed over the old one.
   */
  async writeTranscripts(ref: BundleRef, transcripts: { srt: string; text: string }): Promise<void> {
    const dir = await this.openBundleDir(ref);
    if (!dir) throw new AppError('not_found', `the bundle ${ref.bundle} of session ${ref.session} is no longer in project ${ref.project}'s emuDB`);
    try {
      for (const [kind, name] of Object.entries(TRANSCRIPT_FILES) as Array<[keyof typeof TRANSCRIPT_FILES, string]>) {
        const partial = `${fdPath(dir)}/.${name}.${randomBytes(6).toString('hex')}.partial`;
        try {
          await writeFile(partial, transcripts[kind], { flag: 'wx', mode: 0o664 });
          await rename(partial, `${fdPath(dir)}/${name}`);
        } catch (err) {
          await rm(partial, { force: true }).catch(() => undefined);
          throw err;
        }
      }
    } finally {
      await dir.close();
    }
  }

  /**
   * Opens the bundle's directory (its last component not followed) and checks that what was opened is inside the
   * project's directory; undefined when it is not there. Names are checked first: a bad one is a refusal, not a miss.
   */
  private async openBundleDir(ref: BundleRef): Promise<FileHandle | undefined> {
    if (!this.root) throw new AppError('unavailable', 'this server has no project repositories (PROJECT_REPOSITORIES_DIR), so it cannot transcribe bundles');
    const { project, session, bundle } = ref;
    if (!ProjectIdSchema.safeParse(project).success) throw new AppError('validation_failed', `project id ${JSON.stringify(project.slice(0, 64))} is not one path segment`);
    if (!isSafeSegment(session)) throw new AppError('validation_failed', `session name ${JSON.stringify(session.slice(0, 64))} is not a plain file name`);
    if (!isSafeSegment(bundle) || !isSafeSegment(path.parse(bundle).name)) throw new AppError('validation_failed', `bundle name ${JSON.stringify(bundle.slice(0, 64))} is not a plain file name`);
    const projectDir = path.join(this.root, project);
    const projectReal = await realpath(projectDir).catch((err: unknown) => {
      if (errnoOf(err) === 'ENOENT') throw new AppError('not_found', `project ${project} has no repository`);
      throw err;
    });
    const dirPath = path.join(projectDir, 'Data', 'VISP_emuDB', `${session}_ses`, bundleDirName(bundle));
    const dir = await open(dirPath, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch((err: unknown) => {
      const code = errnoOf(err);
      if (code === 'ENOENT') return undefined;
      // A symlink (ELOOP) or a file (ENOTDIR) where the directory should be.
      if (code === 'ELOOP' || code === 'ENOTDIR') throw new AppError('unprocessable', `the bundle ${bundle} has no directory of its own`);
      throw err;
    });
    if (!dir) return undefined;
    const real = await readlink(fdPath(dir)).catch(async (err: unknown) => {
      await dir.close();
      throw err;
    });
    if (!inside(projectReal, real)) {
      await dir.close();
      throw new AppError('forbidden', `the bundle ${bundle} leads outside project ${project}'s repository`);
    }
    return dir;
  }
}

/** A small regular file's text, or '' when there is none, it is not a regular file, or it is too large. */
async function readSmallFile(file: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return '';
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > MAX_TRANSCRIPT_BYTES) return '';
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
