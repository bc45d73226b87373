/**
 * The queue runner against real SMTP peers on loopback: our SmtpServer with a recording backend
 * (answering 4xx for a while, 5xx, over STARTTLS) and a scripted peer unlike ours (no 8BITMIME,
 * no SMTPUTF8, no DSN). DNS is the FakeResolver; the store is the in-memory reference store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { generate } from 'selfsigned';
import { silentLogger } from '../../src/core/index.js';
import { parseMessage } from '../../src/mime/index.js';
import {
  ensureDkimKey,
  loadDkimKeys,
  QueueRunner,
  type QueueRunnerOptions,
} from '../../src/mta/outbound/index.js';
import { SmtpServer } from '../../src/smtp/index.js';
import { SmtpError } from '../../src/smtp/server/backend.js';
import { createMemoryStore, type QueueEntryInput, type Store, type User } from '../../src/store/index.js';
import { FakeResolver } from '../support/fake-dns.js';
import { MemorySmtpBackend } from '../support/memory-smtp-backend.js';
import { tempDir } from '../support/tmp.js';
import { ScriptedSmtp } from './scripted-smtp.js';

const TINY = { minBackoffMs: 40, maxBackoffMs: 80, maxAgeMs: 60_000, delayWarningMs: 150 };

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

async function setupStore(): Promise<{ store: Store; kihyun: User }> {
  const store = createMemoryStore();
  await store.domains.add('uu.ac.kr');
  const kihyun = await store.users.add({ address: 'kihyun@uu.ac.kr', passwordHash: 'x' });
  return { store, kihyun };
}

/** Queues a message as the inbound backend does: stored bytes start with our trace fields. */
async function enqueue(store: Store, bytes: string | Buffer, q: Partial<QueueEntryInput> & { to: string[] }) {
  const d = await store.openDelivery({
    targets: [],
    envelope: { mailFrom: q.mailFrom ?? 'kihyun@uu.ac.kr', rcptTo: q.to },
    queue: [
      {
        mailFrom: 'kihyun@uu.ac.kr',
        recipients: q.to.map((address) => ({ address })),
        expiresAt: new Date(Date.now() + 60_000),
        ...q,
      },
    ],
  });
  await d.write(
    Buffer.from(
      'Return-Path: <kihyun@uu.ac.kr>\r\nReceived: from client by mx.uu.ac.kr; Thu, 1 Jan 2026 00:00:00 +0000\r\n',
    ),
  );
  await d.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  return (await d.commit()).queued![0]!;
}

async function inbox(store: Store, user: User): Promise<Buffer[]> {
  const box = await store.mailboxes.ensure(user.id, 'INBOX');
  const out: Buffer[] = [];
  for (const m of await store.messages.list(box.id)) {
    const parts: Buffer[] = [];
    for await (const c of store.messages.read(m.id)) parts.push(Buffer.from(c));
    out.push(Buffer.concat(parts));
  }
  return out;
}

function runner(store: Store, opts: Partial<QueueRunnerOptions> = {}): QueueRunner {
  const r = new QueueRunner({
    store,
    hostname: 'mx.uu.ac.kr',
    logger: silentLogger,
    resolver: new FakeResolver(),
    retry: TINY,
    limits: { pollMs: 20, leaseMs: 5000 },
    smtp: { timeouts: { connect: 2000, initial: 2000 } },
    ...opts,
  });
  r.start();
  return r;
}

const MSG =
  'From: kihyun@uu.ac.kr\r\nTo: friend@remote.test\r\nSubject: hello remote\r\nMessage-ID: <m1@uu.ac.kr>\r\n\r\nHello!\r\n';

async function ourServer(backend: MemorySmtpBackend, tls?: { key: string; cert: string }) {
  const server = new SmtpServer({ hostname: 'mx.remote.test', backend, ...(tls ? { tls } : {}) });
  const { port } = await server.listen('127.0.0.1', 0);
  return { server, port };
}

describe('queue runner', () => {
  let tls: { key: string; cert: string };
  before(async () => {
    const a = await generate([{ name: 'commonName', value: 'mx.remote.test' }], { keySize: 2048 });
    tls = { key: a.private, cert: a.cert };
  });

  test('4xx for a while, then 250: retried with backoff and delivered exactly once', async () => {
    const { store } = await setupStore();
    const backend = new MemorySmtpBackend({ localDomains: ['remote.test'] });
    let refusals = 2;
    backend.onData = () => {
      if (refusals-- > 0) throw new SmtpError(451, '4.3.0', 'Try again later');
    };
    const { server, port } = await ourServer(backend);
    const r = runner(store, {
      routing: { routes: { 'remote.test': { host: '127.0.0.1', port, tls: 'none' } } },
    });
    try {
      const id = await enqueue(store, MSG, { to: ['friend@remote.test'] });
      await waitFor('delivery', () => backend.messages.length === 1);
      await waitFor('queue empty', async () => (await store.queue.get(id)) === undefined);
      await new Promise((res) => setTimeout(res, 200));
      assert.equal(backend.messages.length, 1, 'delivered once');
      assert.equal(r.stats.deferred, 2);
      assert.equal(r.stats.delivered, 1);
      const got = backend.messages[0]!;
      assert.equal(got.from, 'kihyun@uu.ac.kr');
      // Our Return-Path is not sent on; the Received line and the message are, byte for byte.
      assert.equal(
        got.data.toString(),
        `Received: from client by mx.uu.ac.kr; Thu, 1 Jan 2026 00:00:00 +0000\r\n${MSG}`,
      );
    } finally {
      await r.stop();
      await server.close();
    }
  });

  test('5xx: no retry, and the sender gets a multipart/report bounce with Status and Diagnostic-Code', async () => {
    const { store, kihyun } = await setupStore();
    const backend = new MemorySmtpBackend({ localDomains: ['remote.test'], users: ['friend@remote.test'] });
    const { server, port } = await ourServer(backend);
    const r = runner(store, {
      routing: { routes: { 'remote.test': { host: '127.0.0.1', port, tls: 'none' } } },
    });
    try {
      const id = await enqueue(store, MSG, {
        to: ['nobody@remote.test', 'friend@remote.test'],
        envid: 'E-42',
      });
      await waitFor('bounce', async () => (await inbox(store, kihyun)).length === 1);
      await waitFor('queue empty', async () => (await store.queue.get(id)) === undefined);
      assert.equal(backend.messages.length, 1);
      assert.deepEqual(
        backend.messages[0]!.rcpts.map((x) => x.to),
        ['friend@remote.test'],
      );
      assert.equal(backend.sessions, 1, 'one transaction for the domain, no retry');
      const bounce = (await inbox(store, kihyun))[0]!;
      const text = bounce.toString();
      assert.match(text, /^Return-Path: <>\r\n/);
      const parsed = await parseMessage(bounce);
      assert.equal(parsed.root.contentType.mediaType, 'multipart/report');
      assert.equal(parsed.root.contentType.params['report-type'], 'delivery-status');
      const kids = parsed.parts.filter((p) => p.path.split('.').length === 1 && p.path !== '');
      assert.deepEqual(
        kids.map((p) => p.contentType.mediaType),
        ['text/plain', 'message/delivery-status', 'text/rfc822-headers'],
      );
      const status = kids[1]!.body!.toString();
      assert.match(status, /^Reporting-MTA: dns; mx\.uu\.ac\.kr\r\nOriginal-Envelope-Id: E-42\r\n/);
      assert.match(
        status,
        /Final-Recipient: rfc822; nobody@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1 No such user here\r\n/,
      );
      assert.doesNotMatch(status, /friend@remote\.test/);
      assert.match(kids[2]!.body!.toString(), /Subject: hello remote\r\n/);
      assert.doesNotMatch(kids[2]!.body!.toString(), /Hello!/, 'headers only by default');
    } finally {
      await r.stop();
      await server.close();
    }
  });

  test('null MX and a domain that does not exist: bounced at once, nothing retried', async () => {
    const { store, kihyun } = await setupStore();
    const dns = new FakeResolver();
    dns.mx.set('nullmx.test', [{ exchange: '.', priority: 0 }]);
    const r = runner(store, { resolver: dns });
    try {
      const id = await enqueue(store, MSG, { to: ['a@nullmx.test', 'b@nowhere.test'], ret: 'FULL' });
      await waitFor('bounce', async () => (await inbox(store, kihyun)).length === 1);
      await waitFor('queue empty', async () => (await store.queue.get(id)) === undefined);
      const asked = dns.queries.length;
      await new Promise((res) => setTimeout(res, 150));
      assert.equal(dns.queries.length, asked, 'no retries');
      const text = (await inbox(store, kihyun))[0]!.toString();
      assert.match(text, /Final-Recipient: rfc822; a@nullmx\.test\r\nAction: failed\r\nStatus: 5\.1\.10\r\n/);
      assert.match(text, /Final-Recipient: rfc822; b@nowhere\.test\r\nAction: failed\r\nStatus: 5\.1\.2\r\n/);
      assert.match(
        text,
        /Content-Type: message\/rfc822\r\n\r\nReceived: from client[\s\S]*Hello!\r\n/,
        'RET=FULL returns it all',
      );
    } finally {
      await r.stop();
    }
  });

  test('MX order, implicit MX, and a failing first MX: the next host gets the mail', async () => {
    const { store } = await setupStore();
    const peer = new ScriptedSmtp({ ehlo: ['8BITMIME', 'PIPELINING'] });
    const port = await peer.listen();
    const dns = new FakeResolver();
    // mx1 (preferred) has no listener on 127.0.0.2's port; mx2 answers.
    dns.mx.set('remote.test', [
      { exchange: 'mx2.remote.test', priority: 20 },
      { exchange: 'mx1.remote.test', priority: 10 },
    ]);
    dns.a.set('mx1.remote.test', ['127.0.0.3']);
    dns.a.set('mx2.remote.test', ['127.0.0.1']);
    dns.a.set('plain.test', ['127.0.0.1']);
    const r = runner(store, { resolver: dns, routing: { mxPort: port } });
    try {
      await enqueue(store, MSG, { to: ['x@remote.test'] });
      await enqueue(store, MSG, { to: ['y@plain.test'] });
      await waitFor('both delivered', () => peer.messages.length === 2);
      const mxq = dns.queries.filter((q) => q.startsWith('A mx'));
      assert.deepEqual(mxq.slice(0, 2), ['A mx1.remote.test', 'A mx2.remote.test']);
      assert.ok(dns.queries.includes('MX plain.test') && dns.queries.includes('A plain.test'));
    } finally {
      await r.stop();
      await peer.close();
    }
  });

  test('8BITMIME missing: a UTF-8 Korean 8-bit body is converted to 7bit and decodes intact', async () => {
    const { store } = await setupStore();
    const peer = new ScriptedSmtp({ ehlo: ['PIPELINING', 'SIZE 10000000'] });
    const port = await peer.listen();
    const r = runner(store, {
      routing: { routes: { 'remote.test': { host: '127.0.0.1', port, tls: 'none' } } },
    });
    const korean = '안녕하세요, 기현입니다.\r\n우편 배달부가 왔어요. 끝.\r\n';
    const attachment = Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x0a, 0x41, 0xfe]);
    const msg = Buffer.concat([
      Buffer.from(
        'From: kihyun@uu.ac.kr\r\nSubject: =?UTF-8?B?7JWI64WV?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n' +
          '--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
          korean +
          '\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n',
      ),
      attachment,
      Buffer.from('\r\n--b1--\r\n'),
    ]);
    try {
      await enqueue(store, msg, { to: ['friend@remote.test'], body8bit: true });
      await waitFor('delivery', () => peer.messages.length === 1);
      const got = peer.messages[0]!;
      assert.doesNotMatch(got.mailLine, /BODY=8BITMIME/i);
      assert.ok(
        [...got.data].every((b) => b < 0x80),
        'every octet is 7-bit',
      );
      const text = got.data.toString();
      assert.match(
        text,
        /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n/,
      );
      assert.match(text, /Content-Type: application\/octet-stream\r\nContent-Transfer-Encoding: base64\r\n/);
      const parsed = await parseMessage(got.data);
      const leaves = parsed.parts.filter((p) => p.contentType.type !== 'multipart');
      assert.equal(leaves[0]!.body!.toString('utf8'), korean);
      assert.deepEqual(leaves[1]!.body, attachment);
    } finally {
      await r.stop();
      await peer.close();
    }
  });

  test('SMTPUTF8 needed but not offered: permanent failure with a clear DSN', async () => {
    const { store, kihyun } = await setupStore();
    const peer = new ScriptedSmtp({ ehlo: ['8BITMIME'] });
    const port = await peer.listen();
    const r = runner(store, {
      routing: { routes: { 'remote.test': { host: '127.0.0.1', port, tls: 'none' } } },
    });
    try {
      await enqueue(store, 'From: 기현 <kihyun@uu.ac.kr>\r\nSubject: 안녕\r\n\r\nhi\r\n', {
        to: ['friend@remote.test'],
        smtputf8: true,
        body8bit: true,
      });
      await waitFor('bounce', async () => (await inbox(store, kihyun)).length === 1);
      const text = (await inbox(store, kihyun))[0]!.toString();
      assert.match(text, /Status: 5\.6\.7\r\n/);
      assert.match(text, /Diagnostic-Code: x-posthorn; 127\.0\.0\.1 does not support SMTPUTF8/);
      assert.equal(peer.messages.length, 0);
    } finally {
      await r.stop();
      await peer.close();
    }
  });

  test('NOTIFY=SUCCESS to a server without DSN: the sender is told "relayed"; NOTIFY=NEVER: silence', async () => {
    const { store, kihyun } = await setupStore();
    const peer = new ScriptedSmtp({
      ehlo: ['8BITMIME'],
      rcpt: (a) => (a.startsWith('bad') ? '550 5.1.1 no' : '250 2.1.5 Ok'),
    });
    const port = await peer.listen();
    const r = runner(store, {
      routing: { routes: { 'remote.test': { host: '127.0.0.1', port, tls: 'none' } } },
    });
    try {
      await enqueue(store, MSG, {
        to: [],
        recipients: [
          { address: 'good@remote.test', notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;good@remote.test' },
          { address: 'bad@remote.test', notify: ['NEVER'] },
        ],
      });
      await waitFor('notice', async () => (await inbox(store, kihyun)).length === 1);
      await new Promise((res) => setTimeout(res, 150));
      const all = await inbox(store, kihyun);
      assert.equal(all.length, 1);
      const text = all[0]!.toString();
      assert.match(
        text,
        /Final-Recipient: rfc822; good@remote\.test\r\nOriginal-Recipient: rfc822;good@remote\.test\r\nAction: relayed\r\nStatus: 2\.0\.0\r\n/,
      );
      assert.doesNotMatch(text, /bad@remote\.test/);
    } finally {
      await r.stop();
      await peer.close();
    }
  });

  test('a server offering STARTTLS gets TLS; DKIM-signed mail verifies', async () => {
    const { store } = await setupStore();
    const dir = tempDir();
    const { key } = await ensureDkimKey(dir, 'uu.ac.kr');
    const backend = new MemorySmtpBackend({ localDomains: ['remote.test'] });
    const { server, port } = await ourServer(backend, tls);
    const r = runner(store, {
      routing: { routes: { 'remote.test': { host: '127.0.0.1', port } } },
      dkimKeys: () => loadDkimKeys(dir),
    });
    try {
      await enqueue(store, MSG, { to: ['friend@remote.test'] });
      await waitFor('delivery', () => backend.messages.length === 1);
      const got = backend.messages[0]!;
      assert.equal(got.conn.tls, true, 'delivered over STARTTLS');
      const sent = got.data.toString();
      assert.match(sent, /^DKIM-Signature: [\s\S]*d=uu\.ac\.kr;/);
      const result = await dkimVerify(Buffer.from(sent), {
        resolver: async (name: string, type: string) => {
          assert.equal(type, 'TXT');
          assert.equal(name, `${key.selector}._domainkey.uu.ac.kr`);
          return [[`v=DKIM1; k=rsa; p=${key.publicKey}`]];
        },
      } as Parameters<typeof dkimVerify>[1]);
      assert.equal(result.results[0]?.status.result, 'pass');
    } finally {
      await r.stop();
      await server.close();
    }
  });

  test('NOTIFY=DELAY: one "delayed" notice while retrying, then the bounce at expiry', async () => {
    const { store, kihyun } = await setupStore();
    const peer = new ScriptedSmtp({ ehlo: ['8BITMIME'], rcpt: () => '450 4.2.0 Mailbox busy' });
    const port = await peer.listen();
    const r = runner(store, {
      routing: { routes: { 'remote.test': { host: '127.0.0.1', port, tls: 'none' } } },
      retry: { ...TINY, maxAgeMs: 700 },
    });
    try {
      const id = await enqueue(store, MSG, {
        to: [],
        recipients: [{ address: 'busy@remote.test', notify: ['DELAY', 'FAILURE'] }],
        expiresAt: new Date(Date.now() + 700),
      });
      await waitFor('delay notice and bounce', async () => (await inbox(store, kihyun)).length >= 2);
      await waitFor('queue empty', async () => (await store.queue.get(id)) === undefined);
      const [delayed, failed] = await inbox(store, kihyun);
      assert.match(delayed!.toString(), /Subject: Delayed Mail \(still being retried\)\r\n/);
      assert.match(
        delayed!.toString(),
        /Action: delayed\r\nStatus: 4\.2\.0\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: smtp; 450 4\.2\.0 Mailbox busy\r\nLast-Attempt-Date: [^\r]+\r\nWill-Retry-Until: /,
      );
      assert.match(
        failed!.toString(),
        /Action: failed\r\nStatus: 4\.4\.7\r\n[\s\S]*Diagnostic-Code: smtp; delivery time expired; last error: 450 4\.2\.0 Mailbox busy/,
      );
      assert.ok(r.stats.deferred >= 3, 'several retries, one delay notice');
      assert.equal((await inbox(store, kihyun)).length, 2);
    } finally {
      await r.stop();
      await peer.close();
    }
  });

  test('opportunistic STARTTLS that fails its handshake: delivered in plain text, not deferred', async () => {
    const { store } = await setupStore();
    const peer = new ScriptedSmtp({ ehlo: ['8BITMIME', 'STARTTLS'] });
    const port = await peer.listen();
    const r = runner(store, { routing: { routes: { 'remote.test': { host: '127.0.0.1', port } } } });
    try {
      await enqueue(store, MSG, { to: ['friend@remote.test'] });
      await waitFor('delivery', () => peer.messages.length === 1);
      assert.equal(peer.tlsAttempts, 1);
      assert.equal(r.stats.deferred, 0);
    } finally {
      await r.stop();
      await peer.close();
    }
  });

  test('two runners on one store (two nodes): every message delivered once; per-destination cap holds', async () => {
    const { store } = await setupStore();
    let open = 0;
    let maxOpen = 0;
    const peer = new ScriptedSmtp({
      ehlo: ['8BITMIME'],
      data: () => '250 2.0.0 Ok',
    });
    const port = await peer.listen();
    const routing = { routes: { 'remote.test': { host: '127.0.0.1', port, tls: 'none' as const } } };
    const limits = { pollMs: 10, leaseMs: 5000, perDestination: 2, batch: 5 };
    const r1 = runner(store, { routing, limits, owner: 'node1' });
    const r2 = runner(store, { routing, limits, owner: 'node2' });
    const timer = setInterval(() => {
      open = peer.connections - peer.messages.length;
      maxOpen = Math.max(maxOpen, open);
    }, 1);
    try {
      for (let i = 0; i < 40; i++)
        await enqueue(store, MSG.replace('hello remote', `n${i}`), { to: [`u${i}@remote.test`] });
      await waitFor('all delivered', () => peer.messages.length >= 40);
      await new Promise((res) => setTimeout(res, 150));
      assert.equal(peer.messages.length, 40);
      assert.equal(new Set(peer.messages.map((m) => m.rcpts[0])).size, 40);
      assert.equal((await store.queue.count()).entries, 0);
      assert.ok(r1.stats.delivered > 0 && r2.stats.delivered > 0, 'both nodes worked');
      assert.ok(peer.connections < 40, `connections are reused (${peer.connections} for 40 messages)`);
      assert.ok(maxOpen <= 4, `at most 2 per node at once (saw ${maxOpen})`);
    } finally {
      clearInterval(timer);
      await r1.stop();
      await r2.stop();
      await peer.close();
    }
  });
});

after(() => {});
