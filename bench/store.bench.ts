/**
 * `npm run bench -- store`: durable commits per second of 4 KiB deliveries into the store alone,
 * with 1, 20 and 100 concurrent deliveries, for the SQLite store (synchronous FULL, the default,
 * and NORMAL), the PostgreSQL store (group commit, synchronous_commit on) and, in the same run, for
 * the peer every durable store is measured against: plain better-sqlite3 on the main thread with
 * one transaction (one fsync) per message. Also the main-thread event-loop delay (p99, max) while
 * a 25 MiB message is being committed, which is what 1,000 open SMTP sessions would feel.
 *
 * Then SMTP durable ingest end to end: real `posthorn serve` processes driven by
 * Postfix's smtp-source over 20 connections, on SQLite (one node), PostgreSQL one node and
 * PostgreSQL three nodes sharing one database, in the same run.
 *
 * Flags: --seconds=N per measurement (default 3), --repeat=N runs per cell, the median printed
 * (default 1), --only=sqlite-full,... to pick rows, --smtp-messages=N per SMTP run (default 4000),
 * --no-smtp / --no-store to skip a part. PostgreSQL: $POSTHORN_BENCH_PG (default
 * postgres://postgres@127.0.0.1:5432/postgres); a database of its own is created and dropped.
 * The load average is printed: on a shared machine, compare rows of the same run only.
 */

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createMemoryStore, openPostgresStore, openSqliteStore, type Store } from '../src/store/index.js';
import { cliArgs } from './peers/posthorn.js';
import {
  benchTempDir,
  haveCommand,
  PeerUnavailable,
  sleep,
  spawnDaemon,
  treeCpuSeconds,
} from './peers/proc.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const SECONDS = Number(arg('seconds') ?? 3);
const ONLY = arg('only')?.split(',');
const REPEAT = Number(arg('repeat') ?? 1);
const CONCURRENCY = [1, 20, 100];
const MESSAGE = randomBytes(4096);

interface Subject {
  name: string;
  open(dir: string): Promise<{ deliver(): Promise<void>; close(): Promise<void> }>;
}

async function storeSubject(store: Store) {
  await store.domains.add('bench.example');
  const users = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      store.users.add({ address: `u${i}@bench.example`, passwordHash: 'x' }),
    ),
  );
  let n = 0;
  return {
    async deliver() {
      const user = users[n++ % users.length]!;
      const d = await store.openDelivery({
        targets: [{ userId: user.id }],
        envelope: { mailFrom: 'sender@example.org', rcptTo: [user.address] },
      });
      await d.write(MESSAGE);
      await d.commit();
    },
    close: () => store.close(),
  };
}

/** The naive durable baseline: one transaction and one fsync per message, on the main thread. */
function naiveSqlite(dir: string) {
  const db = new Database(join(dir, 'naive.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE m (id INTEGER PRIMARY KEY, box INTEGER, uid INTEGER, data BLOB)');
  const insert = db.prepare('INSERT INTO m (box, uid, data) VALUES (?, ?, ?)');
  const tx = db.transaction((uid: number) => insert.run(1, uid, MESSAGE));
  let uid = 0;
  return {
    async deliver() {
      tx(++uid);
    },
    async close() {
      db.close();
    },
  };
}

const subjects: Subject[] = [
  { name: 'sqlite-full', open: async (dir) => storeSubject(await openSqliteStore(join(dir, 's.db'))) },
  {
    name: 'sqlite-normal',
    open: async (dir) => storeSubject(await openSqliteStore(join(dir, 's.db'), { synchronous: 'normal' })),
  },
  { name: 'naive-sqlite-fsync-per-msg (peer)', open: async (dir) => naiveSqlite(dir) },
  {
    name: 'postgres (group commit)',
    open: async () => {
      const db = await benchDatabase();
      const store = await openPostgresStore(db.url);
      const s = await storeSubject(store);
      return { deliver: s.deliver, close: () => s.close().finally(db.drop) };
    },
  },
  { name: 'memory (ceiling)', open: async () => storeSubject(createMemoryStore()) },
];
const NO_STORE = process.argv.includes('--no-store');

// ---- PostgreSQL and SMTP ingest over real nodes ------------------------------------------------

const PG_ADMIN = process.env.POSTHORN_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database of this run's own, dropped by `drop()`. */
async function benchDatabase(): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  try {
    await admin.connect();
  } catch (err) {
    throw new PeerUnavailable(`no PostgreSQL at ${PG_ADMIN}: ${(err as Error).message}`);
  }
  const name = `posthorn_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(PG_ADMIN);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await admin.end();
    },
  };
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = cliArgs();

function posthornCli(args: string[]): void {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`posthorn ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
}

/** Starts `posthorn serve --store URL` with SMTP only, logging to a file; resolves its SMTP port. */
async function startNode(
  storeUrl: string,
  name: string,
): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const dir = benchTempDir(`posthorn-${name}`);
  const config = join(dir, 'posthorn.toml');
  writeFileSync(config, '[smtp]\nmax_connections = 20000\nmax_connections_per_ip = 20000\n');
  const logFile = join(dir, 'posthorn.log');
  const off = ['--submission', 'off', '--smtps', 'off', '--pop3', 'off', '--pop3s', 'off', '--web', 'off'];
  const args = ['serve', '--config', config, '--data', join(dir, 'data'), '--store', storeUrl];
  const d = spawnDaemon(
    process.execPath,
    [...CLI, ...args, '--hostname', 'bench.test', '--smtp', '127.0.0.1:0', ...off],
    {
      cwd: ROOT,
      killAfterMs: 15_000,
      logFile,
    },
  );
  const port = await d
    .alive(
      (async () => {
        for (let i = 0; i < 300; i++) {
          for (const line of readFileSync(logFile, 'utf8').split('\n')) {
            if (!line.includes('"listening"')) continue;
            const rec = JSON.parse(line) as { listener?: string; port?: number };
            if (rec.listener === 'smtp' && rec.port) return rec.port;
          }
          await sleep(100);
        }
        throw new Error(`node ${name} did not start: ${d.output()}`);
      })(),
    )
    .catch(async (err) => {
      await d.stop();
      throw err;
    });
  return { port, pid: d.child.pid!, stop: d.stop };
}

/** CPU seconds of the PostgreSQL backends serving database `name` (from /proc). */
function pgBackendCpu(name: string): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(` ${name} `)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // Gone meanwhile.
    }
  }
  return ticks / 100;
}

/** smtp-source -d: `messages` of 4 KiB to `to` over `sessions` kept connections; fails on any non-2xx. */
function sendTo(port: number, sessions: number, messages: number, to: string): Promise<void> {
  const args = [
    '-s',
    String(sessions),
    '-m',
    String(messages),
    '-l',
    '4096',
    '-d',
    '-M',
    'client.bench.test',
  ];
  args.push('-f', 'a@bench.test', '-t', to, `127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`smtp-source ${args.join(' ')}: ${err}`)),
    );
  });
}

/**
 * SMTP durable ingest: smtp-source sends `messages` 4 KiB messages over 20 connections (kept
 * open, -d), split evenly over the nodes; the rate is all messages over the slowest share's time.
 */
async function smtpIngest(o: { messages: number; repeat: number }): Promise<string> {
  if (!haveCommand('smtp-source'))
    return 'SMTP ingest: skipped (smtp-source, from Postfix, is not installed)';
  const SESSIONS = 20;
  const RCPTS = ['u1@bench.test', 'u2@bench.test', 'u3@bench.test'];
  const setups: { name: string; nodes: number; store: 'sqlite' | 'postgres' }[] = [
    { name: 'sqlite, 1 node', nodes: 1, store: 'sqlite' },
    { name: 'postgres, 1 node', nodes: 1, store: 'postgres' },
    { name: 'postgres, 3 nodes', nodes: 3, store: 'postgres' },
  ];
  const lines = [
    `SMTP durable ingest, ${SESSIONS} connections (3 smtp-source -d, one mailbox each), ${o.messages} messages of 4 KiB (median of ${o.repeat}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})`,
  ];
  const rates: Record<string, number> = {};
  for (const s of setups) {
    const runs: number[] = [];
    const cpuPerK: { nodes: number; pg: number }[] = [];
    for (let r = 0; r < o.repeat; r++) {
      const db = s.store === 'postgres' ? await benchDatabase() : undefined;
      const url = db?.url ?? `sqlite:${join(benchTempDir('posthorn-sqlite'), 'posthorn.db')}`;
      const nodes: { port: number; pid: number; stop: () => Promise<void> }[] = [];
      try {
        posthornCli(['domain', 'add', 'bench.test', '--store', url]);
        for (const u of RCPTS) posthornCli(['user', 'add', u, '--password', 'x', '--store', url]);
        nodes.push(
          ...(await Promise.all(Array.from({ length: s.nodes }, (_, i) => startNode(url, `n${i + 1}`)))),
        );
        // Warm-up: connections, prepared statements, JIT.
        await Promise.all(nodes.map((n) => sendTo(n.port, 6, 1000, RCPTS[0]!)));
        // Three senders, each to its own mailbox, spread over the nodes round robin.
        const cpu = () => ({
          nodes: nodes.reduce((a, n) => a + treeCpuSeconds(n.pid), 0),
          pg: db ? pgBackendCpu(db.name) : 0,
        });
        const c0 = cpu();
        const t0 = performance.now();
        await Promise.all(
          RCPTS.map((to, i) => {
            const sessions = Math.floor(SESSIONS / RCPTS.length) + (i < SESSIONS % RCPTS.length ? 1 : 0);
            const messages = Math.round((o.messages * sessions) / SESSIONS);
            return sendTo(nodes[i % nodes.length]!.port, sessions, messages, to);
          }),
        );
        runs.push(o.messages / ((performance.now() - t0) / 1000));
        const c1 = cpu();
        cpuPerK.push({
          nodes: ((c1.nodes - c0.nodes) * 1000) / o.messages,
          pg: ((c1.pg - c0.pg) * 1000) / o.messages,
        });
      } finally {
        await Promise.all(nodes.map((n) => n.stop()));
        await db?.drop();
      }
    }
    runs.sort((a, b) => a - b);
    rates[s.name] = runs[Math.floor(runs.length / 2)]!;
    const avg = (f: (x: { nodes: number; pg: number }) => number) =>
      (cpuPerK.reduce((a, x) => a + f(x), 0) / cpuPerK.length).toFixed(2);
    lines.push(
      `${s.name.padEnd(24)}${rates[s.name]!.toFixed(0).padStart(8)} msgs/s   CPU s per 1,000 msgs: nodes ${avg((x) => x.nodes)}, PostgreSQL backends ${avg((x) => x.pg)}`,
    );
  }
  const base = rates['sqlite, 1 node']!;
  lines.push(
    `postgres 1 node / sqlite: ${(rates['postgres, 1 node']! / base).toFixed(2)}; postgres 3 nodes / 1 node: ${(rates['postgres, 3 nodes']! / rates['postgres, 1 node']!).toFixed(2)}`,
  );
  return lines.join('\n');
}
const NO_SMTP = process.argv.includes('--no-smtp');

async function measure(s: Subject, concurrency: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-bench-'));
  const target = await s.open(dir);
  try {
    for (let i = 0; i < 50; i++) await target.deliver(); // warm up
    let done = 0;
    const end = performance.now() + SECONDS * 1000;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await target.deliver();
          done++;
        }
      }),
    );
    return done / ((performance.now() - start) / 1000);
  } finally {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bigMessageLag(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-bench-'));
  const store = await openSqliteStore(join(dir, 's.db'));
  try {
    const s = await storeSubject(store);
    const user = (await store.users.get('u0@bench.example'))!;
    const chunk = randomBytes(64 * 1024);
    // Small deliveries keep flowing all along, as they would on a busy server.
    let small = 0;
    let stop = false;
    const background = (async () => {
      while (!stop) {
        await s.deliver();
        small++;
      }
    })();
    const q = (ns: number) => (ns / 1e6).toFixed(1);
    const lag = async (what: () => Promise<void>) => {
      const h = monitorEventLoopDelay({ resolution: 1 });
      const before = small;
      h.enable();
      const t0 = performance.now();
      await what();
      const ms = performance.now() - t0;
      h.disable();
      return { ms, small: small - before, p99: q(h.percentile(99)), max: q(h.max) };
    };
    const sync: number[] = [];
    const big = await lag(async () => {
      const d = await store.openDelivery({
        targets: [{ userId: user.id }],
        envelope: { mailFrom: '', rcptTo: [] },
      });
      for (let i = 0; i < 400; i++) {
        // What one write costs the event loop: its synchronous part.
        const t = performance.now();
        const written = d.write(chunk);
        sync.push(performance.now() - t);
        await written;
        // Bytes come from a socket: each 64 KiB arrives in its own event-loop turn.
        await new Promise(setImmediate);
      }
      await d.commit();
    });
    const idle = await lag(() => new Promise((r) => setTimeout(r, big.ms)));
    stop = true;
    await background;
    sync.sort((a, b) => a - b);
    const at = (p: number) => sync[Math.floor((sync.length - 1) * p)]!.toFixed(2);
    return [
      `25 MiB delivery written and committed in ${big.ms.toFixed(0)} ms`,
      `main-thread time per 64 KiB write(): p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`,
      `main event-loop delay meanwhile: p99 ${big.p99} ms, max ${big.max} ms (${big.small} small commits)`,
      `same span without it:           p99 ${idle.p99} ms, max ${idle.max} ms (${idle.small} small commits)`,
    ].join('\n');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!NO_STORE) {
  console.log(
    `4 KiB deliveries, durable commits/s (${SECONDS} s per cell, median of ${REPEAT}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})`,
  );
  console.log(['store'.padEnd(36), ...CONCURRENCY.map((c) => `c=${c}`.padStart(10))].join(''));
  for (const s of subjects) {
    if (ONLY && !ONLY.some((o) => s.name.startsWith(o))) continue;
    const row = [s.name.padEnd(36)];
    for (const c of CONCURRENCY) {
      const runs: number[] = [];
      for (let i = 0; i < REPEAT; i++) runs.push(await measure(s, c));
      runs.sort((a, b) => a - b);
      row.push(runs[Math.floor(runs.length / 2)]!.toFixed(0).padStart(10));
    }
    console.log(row.join(''));
  }
  console.log(await bigMessageLag());
}
if (!NO_SMTP)
  console.log(await smtpIngest({ messages: Number(arg('smtp-messages') ?? 4000), repeat: REPEAT }));
