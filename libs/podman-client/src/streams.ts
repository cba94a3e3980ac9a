import type { Readable, Writable } from 'node:stream';

/**
 * Splits Docker's multiplexed stream format (8-byte header: stream type, 3 zero bytes, big-endian length)
 * from a complete buffer, as non-follow logs return it.
 */
export function demuxBuffer(buffer: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const type = buffer[offset];
    const length = buffer.readUInt32BE(offset + 4);
    const payload = buffer.subarray(offset + 8, offset + 8 + length);
    (type === 2 ? err : out).push(payload);
    offset += 8 + length;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** The same, incrementally, for a live stream; frames may arrive split across chunks. */
export function demuxStream(source: Readable, stdout: Writable, stderr: Writable): void {
  let pending: Buffer = Buffer.alloc(0);
  source.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const length = pending.readUInt32BE(4);
      if (pending.length < 8 + length) break;
      (pending[0] === 2 ? stderr : stdout).write(pending.subarray(8, 8 + length));
      pending = pending.subarray(8 + length);
    }
  });
}
