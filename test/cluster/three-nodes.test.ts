/**
 * Three `posthorn serve --store postgres://…` processes on one machine sharing one throw-away
 * database: mail accepted by node 1 is retrieved over POP3 from node 2; while node 2 holds the
 * maildrop, node 3 answers -ERR [IN-USE]; the lock dies with node 2 (SIGKILL); deletions are seen
 * by every node; and when the database drops every connection of the cluster in the middle of a
 * 20-connection SMTP load (what a PostgreSQL restart does to its clients; we terminate only our
 * own database's sessions, never restart the shared server), clients get 451 4.3.0, the nodes
 * reconnect by themselves, and every message that got 250 is there afterwards, whole.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../store/postgres/pg-test-db.js';
import { cliOk, type ServerProcess, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';
import { LineClient, play } from '../support/transcript.js';

async function login(port: number): Promise<{ c: LineClient; reply: string }> {
  const c = await LineClient.connect(port);
  await play(c, 'S: +OK*\nC: USER kihyun@uu.ac.kr\nS: +OK*\nC: PASS kihyun0');
  return { c, reply: (await c.readLine(10_000))! };
}

/** Sends one message over SMTP; returns the final reply line to DATA (or the failing one). */
async function send(port: number, subject: string, body: string): Promise<string> {
  const c = await LineClient.connect(port);
  try {
    for (const [cmd, want] of [
      [undefined, '220'],
      ['HELO load.test', '250'],
      ['MAIL FROM:<a@example.org>', '250'],
      ['RCPT TO:<kihyun@uu.ac.kr>', '250'],
      ['DATA', '354'],
    ] as const) {
      if (cmd) c.send(cmd);
      const line = (await c.readLine(15_000)) ?? '<closed>';
      if (!line.startsWith(want)) return line;
    }
    c.write(`Subject: ${subject}\r\n\r\n${body}\r\n.\r\n`);
    const reply = (await c.readLine(15_000)) ?? '<closed>';
    c.send('QUIT');
    return reply;
  } finally {
    c.close();
  }
}

describe('three nodes on one PostgreSQL database', () => {
  let db: TestDatabase;
  const nodes: ServerProcess[] = [];
  const stderr = new Map<ServerProcess, string>();
  before(async () => {
    db = await createTestDatabase();
    const dir = tempDir('posthorn-cluster-');
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
    nodes.push(
      ...(await Promise.all(
        [1, 2, 3].map((i) => startServe(tempDir(`posthorn-node${i}-`), ['--store', db.url])),
      )),
    );
    // What a node writes on stderr (a crash) goes into the failure report.
    for (const n of nodes) n.proc.stderr!.on('data', (d) => stderr.set(n, (stderr.get(n) ?? '') + d));
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await db?.drop();
  });

  it('mail accepted on node 1 is read on node 2; node 3 gets [IN-USE]; the lock dies with node 2', async () => {
    const [n1, n2, n3] = nodes as [ServerProcess, ServerProcess, ServerProcess];
    assert.match(await send(n1.ports.smtp!, 'via node 1', 'Hello from node 1.'), /^250 /);
    assert.match(await send(n3.ports.smtp!, 'via node 3', 'Hello from node 3.'), /^250 /);

    const s2 = await login(n2.ports.pop3!);
    assert.match(s2.reply, /^\+OK/);
    await play(
      s2.c,
      `
      C: STAT
      S~ ^\\+OK 2 \\d+$
      C: UIDL
      S: +OK*
      S~ ^1 \\d+\\.1$
      S~ ^2 \\d+\\.2$
      S: .
      C: RETR 1
      S: +OK*
      S: Return-Path: <a@example.org>
      `,
    );
    let line: string | undefined;
    const text: string[] = [];
    while ((line = await s2.c.readLine()) !== '.' && line !== undefined) text.push(line);
    assert.ok(text.includes('Subject: via node 1'), text.join('\n'));
    assert.ok(text.includes('Hello from node 1.'));

    const s3 = await login(n3.ports.pop3!);
    assert.match(s3.reply, /^-ERR \[IN-USE\]/);
    s3.c.close();

    // Node 2 dies holding the maildrop: its connections die, and so does the lock.
    await n2.kill('SIGKILL');
    s2.c.close();
    let again: Awaited<ReturnType<typeof login>> | undefined;
    for (let i = 0; i < 50; i++) {
      again = await login(n3.ports.pop3!);
      if (again.reply.startsWith('+OK')) break;
      again.c.close();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(again!.reply, /^\+OK/, 'the lock outlived node 2');
    // A deletion on node 3 is seen by node 1, with the same UIDs.
    await play(again!.c, 'C: DELE 1\nS: +OK*\nC: QUIT\nS: +OK*');
    again!.c.close();
    const s1 = await login(n1.ports.pop3!);
    await play(s1.c, 'C: UIDL\nS: +OK*\nS~ ^1 \\d+\\.2$\nS: .\nC: QUIT\nS: +OK*');
    s1.c.close();
  });

  it('the database drops every connection under a 20-connection load: 451, reconnect, nothing lost', async (t) => {
    const live = nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);
    const accepted: string[] = [];
    const refused: string[] = [];
    const unexpected: string[] = [];
    const filler = Array.from({ length: 50 }, () => 'y'.repeat(60)).join('\r\n');
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const id = `load-${w}-${i}`;
        const node = live[w % live.length]!;
        let reply: string;
        try {
          reply = await send(node.ports.smtp!, id, `${id}\r\n${filler}`);
        } catch (err) {
          reply = `${String(err)} (node exit ${node.proc.exitCode ?? node.proc.signalCode}: ${stderr.get(node) ?? ''})`;
        }
        if (reply.startsWith('250 ')) accepted.push(id);
        else if (/^451 4\.3\.0 /.test(reply)) refused.push(id);
        else unexpected.push(`${id}: ${reply}`);
      }
    };
    const workers = Array.from({ length: 20 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 5; i++) {
      await db.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name LIKE 'posthorn%' AND pid <> pg_backend_pid()`,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 700));
    // On a loaded machine the load may need longer to reach its count; the fault is over by now.
    for (const deadline = Date.now() + 20_000; accepted.length <= 50 && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(workers);
    t.diagnostic(`${accepted.length} accepted (250), ${refused.length} refused (451 4.3.0)`);
    assert.deepEqual(unexpected, [], 'replies other than 250 and 451 4.3.0');
    assert.ok(accepted.length > 50, `only ${accepted.length} messages accepted`);
    assert.ok(refused.length > 0, 'no 451 seen: the fault was not injected');

    // After the fault every node accepts again by itself.
    for (const n of live) assert.match(await send(n.ports.smtp!, 'after', 'after the fault'), /^250 /);

    const store = await openStore(db.url);
    try {
      const user = (await store.users.get('kihyun@uu.ac.kr'))!;
      const box = (await store.mailboxes.get(user.id, 'INBOX'))!;
      const found = new Set<string>();
      for (const m of await store.messages.list(box.id)) {
        const parts: Buffer[] = [];
        for await (const c of store.messages.read(m.id)) parts.push(Buffer.from(c));
        const text = Buffer.concat(parts).toString('latin1');
        const subject = /\r\nSubject: (load-\d+-\d+)\r\n/.exec(text)?.[1];
        if (subject) {
          assert.ok(text.endsWith(`${subject}\r\n${filler}\r\n`), `${subject} is not whole`);
          found.add(subject);
        }
      }
      const lost = accepted.filter((id) => !found.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${accepted.length} acknowledged messages lost`);
    } finally {
      await store.close();
    }
  });

  it('a node refuses to start against a newer schema, with one line', async () => {
    await db.query('UPDATE posthorn_schema SET version = version + 1');
    try {
      await assert.rejects(startServe(tempDir('posthorn-node4-'), ['--store', db.url]), (err: Error) => {
        const lines = err.message.split('\n').filter((l) => l.trim() !== '');
        assert.match(lines[0]!, /^server exited with [1-9]/);
        assert.equal(lines.length, 2, err.message);
        assert.match(
          lines[1]!,
          /schema version \d+, newer than \d+ known to this Posthorn; upgrade Posthorn/,
        );
        return true;
      });
    } finally {
      await db.query('UPDATE posthorn_schema SET version = version - 1');
    }
  });
});
