/**
 * `npm run bench -- relay [--quick]`: outbound relay through Posthorn, measured end to end.
 *
 * 1. Throughput: 20 submission connections (AUTH PLAIN, connection reuse, 4 KiB messages, our
 *    SmtpClient as the load generator) → Posthorn (SQLite store, durable) → its queue runner →
 *    a static route to the sink. The sink is Postfix's smtp-sink when installed (it stores
 *    nothing: the ceiling of the receiving side); otherwise our SmtpServer with a discarding
 *    backend in this process (the report says which). Reported: submission rate (250s/s), end to
 *    end rate (until the queue is empty), and, as the peer measured in the same run, the same
 *    generator sending straight to the sink.
 * 2. Queue drain: the remote is down (connection refused) while 10,000 messages are submitted;
 *    they wait in the queue with backoff. Then the remote (our counting sink, so every message is
 *    accounted for by its Subject) comes back: time to drain, and checks that all 10,000 arrived,
 *    none twice, none lost.
 *
 * Posthorn runs as `posthorn serve` through its CLI in a temp data dir; everything listens on
 * 127.0.0.1 ephemeral ports and is stopped at the end.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SmtpClient } from '../src/smtp/client/index.js';
import { SmtpServer } from '../src/smtp/index.js';
import type { Backend, Session } from '../src/smtp/server/backend.js';
import { startSmtpSink } from './peers/postfix.js';
import { cliArgs } from './peers/posthorn.js';
import {
  benchTempDir,
  cleanupAll,
  freePort,
  machineLoad,
  PeerUnavailable,
  sleep,
  spawnDaemon,
} from './peers/proc.js';
import { rate, table } from './peers/report.js';

const QUICK = process.argv.includes('--quick');
const CONNECTIONS = 20;
const THROUGHPUT_MESSAGES = QUICK ? 2_000 : 10_000;
const DRAIN_MESSAGES = QUICK ? 2_000 : 10_000;
const SIZE = 4096;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function message(n: number): Buffer {
  const head = `From: a@bench.test\r\nTo: u@remote.test\r\nSubject: relay ${n}\r\nMessage-ID: <${n}.relay@bench.test>\r\nDate: Thu, 26 Nov 2026 00:00:00 +0000\r\n\r\n`;
  const line = `${'x'.repeat(76)}\r\n`;
  return Buffer.from(head + line.repeat(Math.ceil(SIZE / line.length)));
}

/** A discarding SMTP sink that counts each message by its Subject number. */
class CountingSink {
  readonly seen = new Map<number, number>();
  total = 0;
  private server: SmtpServer | undefined;
  constructor(readonly port: number) {}
  async start() {
    const sink = this;
    const backend: Backend = {
      newSession(): Session {
        return {
          async mail() {},
          async rcpt() {},
          async data(body: Readable) {
            let head = '';
            for await (const c of body) if (head.length < 2048) head += (c as Buffer).toString('latin1');
            const n = Number(/Subject: relay (\d+)/.exec(head)?.[1] ?? -1);
            sink.seen.set(n, (sink.seen.get(n) ?? 0) + 1);
            sink.total++;
            return undefined;
          },
          reset() {},
          logout() {},
        };
      },
    };
    this.server = new SmtpServer({
      hostname: 'sink.test',
      backend,
      limits: { maxConnections: 10_000, maxConnectionsPerIp: 10_000 },
    });
    await this.server.listen('127.0.0.1', this.port);
  }
  async stop() {
    await this.server?.close();
  }
}

async function startPosthorn(routePort: number, dir: string) {
  const data = join(dir, 'data');
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [...cliArgs(), ...args], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new PeerUnavailable(`posthorn ${args.join(' ')}: ${r.stderr}`);
  };
  cli(['domain', 'add', 'bench.test', '--data', data]);
  cli(['user', 'add', 'a@bench.test', '--password', 'pw', '--data', data]);
  const cfg = join(dir, 'posthorn.toml');
  writeFileSync(
    cfg,
    `[smtp]\nmax_connections = 20000\nmax_connections_per_ip = 20000\n[queue]\npoll_interval = 0.1\nmin_backoff = 1\nmax_backoff = 2\nconcurrency = 100\nper_destination = 20\n[routes]\n"remote.test" = "127.0.0.1:${routePort}"\n`,
  );
  const logFile = join(dir, 'posthorn.log');
  const daemon = spawnDaemon(
    process.execPath,
    [
      ...cliArgs(),
      'serve',
      '--config',
      cfg,
      '--data',
      data,
      '--hostname',
      'bench.test',
      '--smtp',
      'off',
      '--submission',
      '127.0.0.1:0',
      '--smtps',
      'off',
      '--pop3',
      'off',
      '--pop3s',
      'off',
      '--web',
      'off',
      '--log-level',
      'warn',
    ],
    { cwd: ROOT, killAfterMs: 15_000, logFile },
  );
  // With --log-level warn the "listening" line is not logged: find the port from the process.
  let port = 0;
  const deadline = Date.now() + 30_000;
  while (!port && Date.now() < deadline) {
    await sleep(200);
    const ss = spawnSync('ss', ['-ltnp'], { encoding: 'utf8' }).stdout ?? '';
    for (const line of ss.split('\n')) {
      if (line.includes(`pid=${daemon.child.pid},`)) port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1] ?? 0);
    }
  }
  if (!port) {
    await daemon.stop();
    throw new Error(`posthorn serve did not start\n${readFileSync(logFile, 'utf8')}`);
  }
  const db = new Database(join(data, 'posthorn.db'), { readonly: true });
  const queued = () => (db.prepare('SELECT count(*) FROM queue').pluck().get() as number) ?? 0;
  return {
    port,
    queued,
    stop: async () => {
      db.close();
      await daemon.stop();
    },
  };
}

/** Submits messages first..first+count-1 over CONNECTIONS authenticated connections. */
async function submit(port: number, first: number, count: number): Promise<number> {
  let next = first;
  const end = first + count;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const c = await SmtpClient.connect({
        host: '127.0.0.1',
        port,
        tls: 'none',
        localName: 'client.bench.test',
      });
      await c.auth({ username: 'a@bench.test', password: 'pw', allowInsecure: true });
      while (next < end) {
        const n = next++;
        const r = await c.send({ from: 'a@bench.test', recipients: ['u@remote.test'] }, message(n));
        if (!r.ok) throw new Error(`message ${n} refused: ${JSON.stringify(r.data)}`);
      }
      await c.quit();
    }),
  );
  return (performance.now() - t0) / 1000;
}

async function direct(port: number, count: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const c = await SmtpClient.connect({
        host: '127.0.0.1',
        port,
        tls: 'none',
        localName: 'client.bench.test',
      });
      while (next < count) {
        const n = next++;
        await c.send({ from: 'a@bench.test', recipients: ['u@remote.test'] }, message(n));
      }
      await c.quit();
    }),
  );
  return (performance.now() - t0) / 1000;
}

async function waitEmpty(queued: () => number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (queued() > 0) {
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`queue not empty after ${timeoutMs} ms: ${queued()}`);
    await sleep(50);
  }
  return (performance.now() - t0) / 1000;
}

async function main() {
  console.log(`machine: ${machineLoad()}`);
  // --- 1. throughput
  let sinkName = 'Postfix smtp-sink';
  let sinkPort: number;
  let stopSink: () => Promise<void>;
  try {
    const s = await startSmtpSink();
    sinkPort = s.port;
    stopSink = s.stop;
    sinkName = `Postfix smtp-sink ${s.version}`;
  } catch (err) {
    if (!(err instanceof PeerUnavailable)) throw err;
    sinkPort = await freePort();
    const s = new CountingSink(sinkPort);
    await s.start();
    stopSink = () => s.stop();
    sinkName = `our SmtpServer, discarding backend (smtp-sink unavailable: ${err.message})`;
  }
  const dir1 = benchTempDir('relay');
  const p1 = await startPosthorn(sinkPort, dir1);
  const rows: (string | number)[][] = [];
  try {
    await submit(p1.port, 1_000_000, 200); // warm-up
    await waitEmpty(p1.queued, 60_000);
    const t0 = performance.now();
    const subSec = await submit(p1.port, 0, THROUGHPUT_MESSAGES);
    await waitEmpty(p1.queued, 600_000);
    const e2eSec = (performance.now() - t0) / 1000;
    const directSec = await direct(sinkPort, THROUGHPUT_MESSAGES);
    rows.push(['Posthorn: submission (250 after durable commit)', rate(THROUGHPUT_MESSAGES / subSec)]);
    rows.push(['Posthorn: submission → queue → delivered to the sink', rate(THROUGHPUT_MESSAGES / e2eSec)]);
    rows.push(['peer: same generator straight to the sink', rate(THROUGHPUT_MESSAGES / directSec)]);
  } finally {
    await p1.stop();
    await stopSink();
  }
  console.log(
    `\nRelay throughput, ${THROUGHPUT_MESSAGES} messages of ${SIZE} B, ${CONNECTIONS} connections; sink: ${sinkName}`,
  );
  console.log(table(['path', 'messages/s'], rows));

  // --- 2. drain after an outage
  const port = await freePort();
  const dir2 = benchTempDir('relay-drain');
  const p2 = await startPosthorn(port, dir2);
  const sink = new CountingSink(port);
  try {
    const subSec = await submit(p2.port, 0, DRAIN_MESSAGES);
    const queuedNow = p2.queued();
    await sleep(1500); // failed attempts while the remote is down
    const t0 = performance.now();
    await sink.start();
    await waitEmpty(p2.queued, 900_000);
    const drainSec = (performance.now() - t0) / 1000;
    await sleep(500);
    let dup = 0;
    let missing = 0;
    for (let i = 0; i < DRAIN_MESSAGES; i++) {
      const n = sink.seen.get(i) ?? 0;
      if (n === 0) missing++;
      if (n > 1) dup += n - 1;
    }
    console.log(
      `\nQueue drain: ${DRAIN_MESSAGES} messages submitted while the remote was down (${rate(DRAIN_MESSAGES / subSec)}/s), ${queuedNow} queued`,
    );
    console.log(
      table(
        ['remote back → queue empty', 'drain rate', 'arrived', 'missing', 'duplicates'],
        [[`${drainSec.toFixed(1)} s`, `${rate(DRAIN_MESSAGES / drainSec)}/s`, sink.total, missing, dup]],
      ),
    );
    if (missing > 0) process.exitCode = 1;
  } finally {
    await p2.stop();
    await sink.stop();
  }
}

try {
  await main();
} finally {
  await cleanupAll();
}
