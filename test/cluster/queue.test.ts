/**
 * The outbound queue worked by three `posthorn serve --store postgres://…` nodes: 1,000 queued
 * messages to a remote test server (an SMTP server on loopback, reached through a static route)
 * are delivered exactly once, by several nodes (claims use `FOR UPDATE SKIP LOCKED`); then a node
 * is killed in the middle of delivering 300 more, its leases run out, the others deliver what it
 * held, and nothing is lost (at-least-once: only what the dead node had in flight may arrive twice).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SmtpServer } from '../../src/smtp/server/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../store/postgres/pg-test-db.js';
import { MemorySmtpBackend } from '../support/memory-smtp-backend.js';
import { cliOk, type ServerProcess, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';

const CONCURRENCY = 10;

async function enqueue(store: Store, tag: string, count: number): Promise<void> {
  const expiresAt = new Date(Date.now() + 86_400_000);
  let next = 0;
  await Promise.all(
    Array.from({ length: 25 }, async () => {
      for (let i = next++; i < count; i = next++) {
        const d = await store.openDelivery({
          targets: [],
          envelope: { mailFrom: 'kihyun@uu.ac.kr', rcptTo: ['far@remote.example'] },
          queue: [
            { mailFrom: 'kihyun@uu.ac.kr', recipients: [{ address: 'far@remote.example' }], expiresAt },
          ],
        });
        await d.write(
          Buffer.from(`Subject: ${tag}-${i}\r\nMessage-ID: <${tag}-${i}@uu.ac.kr>\r\n\r\nhello\r\n`),
        );
        await d.commit();
      }
    }),
  );
}

describe('three nodes work one outbound queue', () => {
  let db: TestDatabase;
  let store: Store;
  let remote: SmtpServer;
  const sink = new MemorySmtpBackend({ localDomains: ['remote.example'] });
  const nodes: ServerProcess[] = [];
  const owners = new Set<string>();

  /** Count of deliveries per tag, seen by the remote server. */
  const received = (tag: string) => {
    const counts = new Map<string, number>();
    for (const m of sink.messages) {
      const s = /(?:^|\r\n)Subject: ([\w-]+)\r\n/.exec(m.data.toString('latin1'))?.[1];
      if (s?.startsWith(`${tag}-`)) counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    return counts;
  };
  /** Waits until the queue is empty, noting which nodes hold leases meanwhile. */
  const drained = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await db.query<{ o: string }>(
        'SELECT DISTINCT lease_owner AS o FROM queue WHERE lease_owner IS NOT NULL',
      );
      for (const r of rows) owners.add(r.o);
      if ((await store.queue.count()).entries === 0) return;
      if (Date.now() > deadline)
        throw new Error(`queue not drained: ${JSON.stringify(await store.queue.count())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    db = await createTestDatabase();
    remote = new SmtpServer({ hostname: 'mx.remote.example', backend: sink });
    const { port } = await remote.listen('127.0.0.1', 0);
    const dir = tempDir('posthorn-queue-');
    await cliOk(['domain', 'add', 'uu.ac.kr', '--store', db.url, '--data', dir]);
    await cliOk([
      'user',
      'add',
      'kihyun@uu.ac.kr',
      '--password',
      'kihyun0',
      '--store',
      db.url,
      '--data',
      dir,
    ]);
    const config = join(dir, 'posthorn.toml');
    writeFileSync(config, `[queue]\npoll_interval = 1\nlease = 3\nconcurrency = ${CONCURRENCY}\n`);
    store = await openStore(db.url);
    nodes.push(
      ...(await Promise.all(
        [1, 2, 3].map((i) =>
          startServe(tempDir(`posthorn-qnode${i}-`), [
            '--store',
            db.url,
            '--config',
            config,
            '--route',
            `remote.example=127.0.0.1:${port}`,
          ]),
        ),
      )),
    );
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await store?.close();
    await remote?.close(200);
    await db?.drop();
  });

  it('1,000 queued messages are delivered exactly once, by several nodes', async (t) => {
    await enqueue(store, 'once', 1000);
    await drained(60_000);
    const counts = received('once');
    assert.equal(counts.size, 1000, `${counts.size} of 1000 distinct messages arrived`);
    const twice = [...counts].filter(([, n]) => n !== 1);
    assert.deepEqual(twice, [], 'delivered more than once');
    t.diagnostic(`lease owners seen: ${owners.size}`);
    assert.ok(owners.size >= 2, `only ${[...owners].join(', ')} claimed entries`);
  });

  it('a node killed in the middle of delivery loses nothing: its leases expire and others deliver', async (t) => {
    await enqueue(store, 'kill', 300);
    // Let delivery start, then kill the node that holds claims right now.
    let victim: ServerProcess | undefined;
    for (let i = 0; i < 200 && !victim; i++) {
      const rows = await db.query<{ o: string }>(
        'SELECT DISTINCT lease_owner AS o FROM queue WHERE lease_owner IS NOT NULL',
      );
      victim = nodes.find((n) => rows.some((r) => r.o.endsWith(`:${n.proc.pid}`)));
      if (!victim) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(victim, 'no node was seen holding a claim');
    await victim.kill('SIGKILL');
    const orphaned = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM queue WHERE lease_owner LIKE $1 AND lease_until > $2',
      [`%:${victim.proc.pid}`, Date.now()],
    );
    t.diagnostic(`entries leased by the dead node: ${orphaned[0]!.n}`);
    await drained(60_000);
    const counts = received('kill');
    assert.equal(counts.size, 300, `${counts.size} of 300 distinct messages arrived`);
    const extra = [...counts.values()].reduce((a, n) => a + n - 1, 0);
    t.diagnostic(`duplicates after the kill: ${extra}`);
    assert.ok(extra <= CONCURRENCY, `${extra} duplicates: more than the dead node had in flight`);
  });
});
