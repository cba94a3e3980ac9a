import { connect } from 'node:net';
import { startOwnServer } from './own-server';

/** A Redis server of a test's own, durable across restarts (AOF, fsync on every write), for fault tests. */
export interface OwnRedis {
  url: string;
  /** Stops the server (SIGTERM: it finishes its AOF) and starts it again on the same port and data. */
  restart(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => (socket.destroy(), resolve(data.toString().startsWith('+PONG'))));
    socket.once('error', () => resolve(false));
  });

export async function startOwnRedis(): Promise<OwnRedis> {
  const own = await startOwnServer({
    name: 'redis-server',
    command: 'redis-server',
    args: (port, dir) => ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
    answers,
    startTimeoutMs: 15_000,
  });
  return { url: `redis://127.0.0.1:${own.port}`, restart: (options) => own.restart(options), stop: () => own.stop() };
}
