/**
 * The SMTP load generator: Postfix's smtp-source, the same binary and flags for every system.
 *
 * `smtp-source -s S -m M -l L` sends M messages of L payload bytes (plus ~200 bytes of headers)
 * over S parallel sessions; by default it disconnects after each message (one message per
 * connection), and with `-d` it keeps each session open for the next message (connection reuse).
 * It stops with a non-zero exit at the first reply that is not 2xx/3xx, so a completed run means
 * every message was accepted.
 *
 * Failure semantics: a failed or timed-out run rejects with smtp-source's own error text.
 */
import { spawn } from 'node:child_process';
import { onCleanup } from './proc.js';

export interface SmtpLoad {
  port: number;
  /** Parallel sessions (-s). */
  sessions: number;
  /** Messages in total (-m). */
  messages: number;
  /** Payload bytes per message (-l). */
  size: number;
  /** Keep each connection for several messages (-d). */
  reuse: boolean;
  /** Abort after this long (ms). */
  timeoutMs?: number;
}

export interface SmtpLoadResult {
  seconds: number;
  perSecond: number;
}

/** Runs smtp-source against 127.0.0.1:port and times it. */
export function smtpSource(load: SmtpLoad): Promise<SmtpLoadResult> {
  const args = [
    '-s',
    String(load.sessions),
    '-m',
    String(load.messages),
    '-l',
    String(load.size),
    '-M',
    'client.bench.test',
    '-f',
    'a@bench.test',
    '-t',
    'u@bench.test',
    ...(load.reuse ? ['-d'] : []),
    `127.0.0.1:${load.port}`,
  ];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (err.length < 4000) err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), load.timeoutMs ?? 300_000);
    const unregister = onCleanup(() => {
      child.kill('SIGKILL');
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      unregister();
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code === 0) resolve({ seconds, perSecond: load.messages / seconds });
      else reject(new Error(`smtp-source ${args.join(' ')}: ${signal ?? `exit ${code}`} ${err.trim()}`));
    });
  });
}
