/**
 * pino: one JSON line per event on stdout, pretty-printed when stdout is a terminal. Passwords are
 * never logged (no layer passes them), and common secret-looking fields are redacted regardless.
 */
import { pino } from 'pino';
import type { Logger } from '../core/index.js';

export function createLogger(level: string, opts: { pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  const base = {
    level,
    base: undefined,
    redact: ['password', 'pass', '*.password', 'auth.password'],
  };
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' },
      },
    }) as unknown as Logger;
  }
  return pino(base, pino.destination({ dest: 1, sync: false })) as unknown as Logger;
}
