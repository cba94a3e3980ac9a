import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from './define';

export type { Logger } from 'pino';

export interface LoggerOptions {
  component: string;
  level: LogLevel;
  /** `pretty` for people at a terminal; JSON otherwise. @defaultValue 'json' */
  format?: 'json' | 'pretty';
  /** Where lines go. @defaultValue stdout */
  destination?: NodeJS.WritableStream;
}

/** Paths that may carry credentials in anything we log. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-service-token"]',
  'res.headers["set-cookie"]',
  '*.token',
  '*.password',
  '*.secret',
  'token',
  'password',
  'secret',
];

/** One logger per component; children per request add `requestId`. */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    base: { component: options.component },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.format === 'pretty') {
    return pino(base, pretty({ colorize: true, destination: options.destination ?? 1, sync: true }));
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}

/** Convenience for services: the logger their config describes. */
export function loggerFor(config: { component: string; logLevel: LogLevel; LOG_FORMAT: 'json' | 'pretty' }): Logger {
  return createLogger({ component: config.component, level: config.logLevel, format: config.LOG_FORMAT });
}
