import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { OperatorError, sh } from './host';

const { EJSON } = mongoose.mongo.BSON;

/** What a backup holds, written last: a backup without it is incomplete. */
export interface Manifest {
  version: 1;
  createdAt: string;
  database: string;
  collections: Array<{ name: string; documents: number; indexes: Array<{ key: Record<string, number>; name: string; unique?: boolean }> }>;
  volumes: Array<{ name: string; labels: Record<string, string>; sha256: string; bytes: number }>;
}

export interface BackupOptions {
  out: string;
  mongoUri: string;
  /** Volumes to save; default: every `visp-home-*` volume and `visp-transcriptions`. */
  volumes?: string[];
  env?: NodeJS.ProcessEnv;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function connected(connection: mongoose.Connection): mongoose.mongo.Db {
  if (!connection.db) throw new OperatorError('the database connection is not open');
  return connection.db;
}

function podman(args: string[], env?: NodeJS.ProcessEnv): string {
  const ran = sh('podman', args, { env });
  if (ran.code !== 0) throw new OperatorError(`podman ${args.slice(0, 3).join(' ')} failed: ${ran.stderr.trim().split('\n').at(-1) ?? ''}`);
  return ran.stdout;
}

function defaultVolumes(env?: NodeJS.ProcessEnv): string[] {
  return podman(['volume', 'ls', '--format', '{{.Name}}'], env)
    .split('\n')
    .filter((name) => name.startsWith('visp-home-') || name === 'visp-transcriptions');
}

/**
 * Saves the database (every collection as EJSON lines, with its indexes) and the users' volumes (podman volume
 * export) into `out`, then a manifest with counts and checksums.
 */
export async function backup(options: BackupOptions): Promise<Manifest> {
  if (existsSync(options.out) && readdirSync(options.out).length > 0) throw new OperatorError(`${options.out} is not empty`, 'give a new directory with --out');
  // The operator's eyes only: users' files and the database (emails, token hashes), whatever the umask says.
  mkdirSync(options.out, { recursive: true, mode: 0o700 });
  chmodSync(options.out, 0o700);
  mkdirSync(path.join(options.out, 'mongo'), { mode: 0o700 });
  mkdirSync(path.join(options.out, 'volumes'), { mode: 0o700 });
  const connection = await mongoose.createConnection(options.mongoUri, { serverSelectionTimeoutMS: 10_000 }).asPromise();
  const manifest: Manifest = { version: 1, createdAt: new Date().toISOString(), database: connection.name, collections: [], volumes: [] };
  try {
    const db = connected(connection);
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      const documents = await db.collection(name).find().toArray();
      writeFileSync(path.join(options.out, 'mongo', `${name}.ejson`), documents.map((d) => EJSON.stringify(d, { relaxed: false })).join('\n'), { mode: 0o600 });
      const indexes = (await db.collection(name).indexes()).filter((i) => i.name !== '_id_').map((i) => ({ key: i.key as Record<string, number>, name: i.name as string, unique: i.unique }));
      manifest.collections.push({ name, documents: documents.length, indexes });
    }
  } finally {
    await connection.close();
  }
  for (const name of options.volumes ?? defaultVolumes(options.env)) {
    const file = path.join(options.out, 'volumes', `${name}.tar`);
    const inspected = JSON.parse(podman(['volume', 'inspect', name], options.env)) as Array<{ Labels?: Record<string, string> }>;
    podman(['volume', 'export', name, '--output', file], options.env);
    chmodSync(file, 0o600); // podman writes it with its own mode; the directory kept others out meanwhile
    manifest.volumes.push({ name, labels: inspected[0]?.Labels ?? {}, sha256: await sha256(file), bytes: readFileSync(file).length });
  }
  writeFileSync(path.join(options.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}

export interface RestoreOptions {
  from: string;
  mongoUri: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Restores a backup into an empty database and volumes that do not exist yet; refuses to overwrite anything,
 * and checks every volume archive against the manifest before changing a thing.
 */
export async function restore(options: RestoreOptions): Promise<Manifest> {
  const manifestFile = path.join(options.from, 'manifest.json');
  if (!existsSync(manifestFile)) throw new OperatorError(`${options.from} has no manifest.json: not a complete backup`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  for (const volume of manifest.volumes) {
    if ((await sha256(path.join(options.from, 'volumes', `${volume.name}.tar`))) !== volume.sha256) throw new OperatorError(`volumes/${volume.name}.tar does not match its checksum: the backup is damaged`);
    if (sh('podman', ['volume', 'exists', volume.name], { env: options.env }).code === 0) throw new OperatorError(`volume ${volume.name} exists already`, `remove it first (podman volume rm ${volume.name}) if its contents are to be replaced`);
  }
  const connection = await mongoose.createConnection(options.mongoUri, { serverSelectionTimeoutMS: 10_000 }).asPromise();
  try {
    const db = connected(connection);
    const existing = await db.listCollections({}, { nameOnly: true }).toArray();
    for (const { name } of existing) {
      if ((await db.collection(name).estimatedDocumentCount()) > 0) throw new OperatorError(`the database already has data (collection ${name})`, 'restore into a new, empty database');
    }
    for (const collection of manifest.collections) {
      const lines = readFileSync(path.join(options.from, 'mongo', `${collection.name}.ejson`), 'utf8').split('\n').filter(Boolean);
      const documents = lines.map((line) => EJSON.parse(line, { relaxed: false }) as mongoose.mongo.Document);
      if (documents.length > 0) await db.collection(collection.name).insertMany(documents, { ordered: true });
      for (const index of collection.indexes) await db.collection(collection.name).createIndex(index.key, { name: index.name, ...(index.unique ? { unique: true } : {}) });
    }
  } finally {
    await connection.close();
  }
  for (const volume of manifest.volumes) {
    podman(['volume', 'create', ...Object.entries(volume.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), volume.name], options.env);
    podman(['volume', 'import', volume.name, path.join(options.from, 'volumes', `${volume.name}.tar`)], options.env);
  }
  return manifest;
}
