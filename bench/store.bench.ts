/**
 * `npm run bench -- store`: durable commits per second of 4 KiB deliveries into the store alone,
 * with 1, 20 and 100 concurrent deliveries, for the SQLite store (synchronous FULL, the default,
 * and NORMAL) and, in the same run, for the peer every durable store is measured against: plain
 * better-sqlite3 on the main thread with one transaction (one fsync) per message. Also the
 * main-thread event-loop delay (p99, max) while a 25 MiB message is being committed, which is what
 * 1,000 open SMTP sessions would feel.
 *
 * Flags: --seconds=N per measurement (default 3), --repeat=N runs per cell, the median printed
 * (default 1), --only=sqlite-full,... to pick rows. The load average is printed: on a shared
 * machine, compare rows of the same run only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createMemoryStore, openSqliteStore, type Store } from '../src/store/index.js';

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
  { name: 'memory (ceiling)', open: async () => storeSubject(createMemoryStore()) },
];

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
