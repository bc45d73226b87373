/**
 * Vacation auto-replies (RFC 3834) over SMTP on a SQLite store: a message to a user whose reply is
 * on gets one reply per sender per period (also after a restart), threaded to the original and
 * marked `Auto-Submitted: auto-replied`; a remote sender's reply leaves through the queue with
 * `MAIL FROM:<>` (checked at a scripted peer), a local sender's lands in its mailbox. Bounces,
 * mail systems, lists, bulk mail, auto-submitted mail and Bcc copies get none.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import { Authenticator, hashPassword } from '../../src/mta/auth/index.js';
import { InboundBackend } from '../../src/mta/inbound/index.js';
import { QueueRunner } from '../../src/mta/outbound/index.js';
import { SmtpServer } from '../../src/smtp/index.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { ScriptedSmtp } from '../outbound/scripted-smtp.js';
import { FakeResolver } from '../support/fake-dns.js';
import { tempDir } from '../support/tmp.js';
import { transcript } from '../support/transcript.js';

const AWAY = 'I am away until Monday.\nUrgent: call the office.';

async function readAll(it: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString();
}

/** One SMTP transaction as a transcript: envelope, header lines, a short body. */
function mailScript(from: string, rcpts: string[], header: string[]): string {
  return [
    'S: 220 *',
    'C: EHLO sender.example',
    'S* 250 *',
    `C: MAIL FROM:<${from}>`,
    'S: 250 *',
    ...rcpts.flatMap((r) => [`C: RCPT TO:<${r}>`, 'S: 250 *']),
    'C: DATA',
    'S: 354 *',
    ...header.map((h) => `C: ${h}`),
    'C:',
    'C: Hello.',
    'C: .',
    'S: 250 2.0.0 *',
    'C: QUIT',
    'S: 221 *',
  ].join('\n');
}

describe('vacation auto-replies over SMTP', () => {
  const path = join(tempDir('posthorn-vacation-'), 'mail.db');
  let store: Store;
  let backend: InboundBackend;
  let server: SmtpServer;
  let port: number;
  let kihyunId: number;

  async function start() {
    store = await openSqliteStore(path);
    backend = new InboundBackend({
      store,
      hostname: 'mx.uu.ac.kr',
      logger: silentLogger,
      authenticator: new Authenticator(store, { defaultDomain: 'uu.ac.kr' }),
    });
    server = new SmtpServer({ hostname: 'mx.uu.ac.kr', backend });
    port = (await server.listen('127.0.0.1', 0)).port;
  }
  async function stop() {
    await server.close();
    await backend.settle();
    await store.close();
  }
  /** Sends one message and waits for the after-commit work (the auto-reply) to finish. */
  async function send(from: string, rcpts: string[], header: string[]) {
    await transcript(port, mailScript(from, rcpts, header));
    await backend.settle();
  }
  /** Auto-replies waiting in the queue: null reverse path entries, by recipient. */
  async function queuedReplies(): Promise<string[]> {
    return (await store.queue.list())
      .filter((e) => e.mailFrom === '')
      .flatMap((e) => e.recipients.map((r) => r.address));
  }

  before(async () => {
    await start();
    await store.domains.add('uu.ac.kr');
    const kihyun = await store.users.add({
      address: 'kihyun@uu.ac.kr',
      passwordHash: await hashPassword('x'),
    });
    await store.users.add({ address: 'mina@uu.ac.kr', passwordHash: await hashPassword('y') });
    await store.aliases.add('info@uu.ac.kr', ['kihyun@uu.ac.kr']);
    kihyunId = kihyun.id;
    await store.vacation.set(kihyun.id, { enabled: true, subject: '', text: AWAY, intervalDays: 7 });
  });
  after(stop);

  it('answers a remote sender once, threaded and marked auto-replied, through the queue', async () => {
    await send(
      'bob@remote.example',
      ['kihyun@uu.ac.kr'],
      [
        'From: Bob <bob@remote.example>',
        'To: Kihyun <kihyun@uu.ac.kr>',
        'Subject: =?UTF-8?B?7ZSE66Gc7KCd7Yq4?= plan',
        'Message-ID: <m2@remote.example>',
        'References: <m0@remote.example> <m1@remote.example>',
      ],
    );
    const entries = (await store.queue.list()).filter((e) => e.mailFrom === '');
    assert.equal(entries.length, 1);
    const e = entries[0]!;
    assert.deepEqual(
      e.recipients.map((r) => r.address),
      ['bob@remote.example'],
    );
    const raw = await readAll(store.queue.read(e.id));
    const head = raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
    assert.match(head, /^Return-Path: <>\r\n/);
    assert.match(head, /\r\nFrom: kihyun@uu\.ac\.kr\r\n/);
    assert.match(head, /\r\nTo: bob@remote\.example\r\n/);
    assert.match(head, /\r\nSubject: Re: =\?UTF-8\?/i, 'the decoded subject is encoded again');
    assert.match(head, /\r\nIn-Reply-To: <m2@remote\.example>\r\n/);
    assert.match(
      head,
      /\r\nReferences: <m0@remote\.example> <m1@remote\.example>\s+<m2@remote\.example>\r\n/,
    );
    assert.match(head, /\r\nAuto-Submitted: auto-replied\r\n/);
    assert.match(raw, /I am away until Monday\.\r\nUrgent: call the office\./);

    // The same sender again (any case): no second reply within the period.
    await send('BOB@remote.example', ['kihyun@uu.ac.kr'], ['To: kihyun@uu.ac.kr', 'Subject: again']);
    assert.deepEqual(await queuedReplies(), ['bob@remote.example']);
  });

  it('keeps the period across a restart', async () => {
    await stop();
    await start();
    await send('bob@remote.example', ['kihyun@uu.ac.kr'], ['To: kihyun@uu.ac.kr', 'Subject: third']);
    assert.deepEqual(await queuedReplies(), ['bob@remote.example']);
  });

  it('never answers bounces, mail systems, lists, bulk or auto-submitted mail, or Bcc copies', async () => {
    const to = 'To: kihyun@uu.ac.kr';
    await send('', ['kihyun@uu.ac.kr'], [to, 'Subject: Undelivered Mail Returned to Sender']);
    await send('MAILER-DAEMON@remote.example', ['kihyun@uu.ac.kr'], [to, 'Subject: failure notice']);
    await send('owner-staff@lists.example', ['kihyun@uu.ac.kr'], [to, 'Subject: x']);
    await send('staff-request@lists.example', ['kihyun@uu.ac.kr'], [to, 'Subject: x']);
    await send(
      'carol@lists.example',
      ['kihyun@uu.ac.kr'],
      [to, 'Subject: [staff] news', 'List-Id: <staff.lists.example>'],
    );
    await send('erin@lists.example', ['kihyun@uu.ac.kr'], [to, 'List-Unsubscribe: <mailto:u@lists.example>']);
    await send('dave@shop.example', ['kihyun@uu.ac.kr'], [to, 'Subject: SALE', 'Precedence: bulk']);
    await send('dan@shop.example', ['kihyun@uu.ac.kr'], [to, 'Precedence: junk']);
    await send('robot@cron.example', ['kihyun@uu.ac.kr'], [to, 'Auto-Submitted: auto-generated']);
    await send('other@vac.example', ['kihyun@uu.ac.kr'], [to, 'Auto-Submitted: auto-replied']);
    await send('gina@remote.example', ['kihyun@uu.ac.kr'], ['To: someone@remote.example', 'Subject: bcc']);
    assert.deepEqual(await queuedReplies(), ['bob@remote.example'], 'no reply to any of them');
    assert.deepEqual(await store.queue.count(), { entries: 1, pendingRecipients: 1 });
  });

  it('answers "Auto-Submitted: no", mail to an alias of the user, and a local sender in its mailbox', async () => {
    await send(
      'frank@remote.example',
      ['kihyun@uu.ac.kr'],
      ['To: kihyun@uu.ac.kr', 'Auto-Submitted: no (typed by a person)', 'Subject: hi'],
    );
    await send('hana@remote.example', ['info@uu.ac.kr'], ['To: info@uu.ac.kr', 'Subject: question']);
    assert.deepEqual((await queuedReplies()).sort(), [
      'bob@remote.example',
      'frank@remote.example',
      'hana@remote.example',
    ]);

    await send(
      'mina@uu.ac.kr',
      ['kihyun@uu.ac.kr'],
      ['From: mina@uu.ac.kr', 'To: kihyun@uu.ac.kr', 'Subject: lunch?', 'Message-ID: <lunch@uu.ac.kr>'],
    );
    const mina = (await store.users.get('mina@uu.ac.kr'))!;
    const box = (await store.mailboxes.get(mina.id, 'INBOX'))!;
    const msgs = await store.messages.list(box.id);
    assert.equal(msgs.length, 1);
    const raw = await readAll(store.messages.read(msgs[0]!.id));
    assert.match(raw, /^Return-Path: <>\r\n/);
    assert.match(raw, /\r\nSubject: Re: lunch\?\r\n/);
    assert.match(raw, /\r\nIn-Reply-To: <lunch@uu\.ac\.kr>\r\n/);
    assert.match(raw, /\r\nAuto-Submitted: auto-replied\r\n/);

    // Mina's own vacation is off, so the reply (null sender, auto-replied) is not answered either:
    // and kihyun, answering mina, never answers himself.
    await send('kihyun@uu.ac.kr', ['kihyun@uu.ac.kr'], ['To: kihyun@uu.ac.kr', 'Subject: note to self']);
    assert.equal((await queuedReplies()).length, 3);
  });

  it('is off once the user turns it off', async () => {
    await store.vacation.set(kihyunId, { enabled: false, subject: '', text: AWAY, intervalDays: 7 });
    await send('ian@remote.example', ['kihyun@uu.ac.kr'], ['To: kihyun@uu.ac.kr', 'Subject: hello']);
    assert.equal((await queuedReplies()).includes('ian@remote.example'), false);
  });

  it('the queued replies leave with MAIL FROM:<> to the senders', async () => {
    const peer = new ScriptedSmtp({ ehlo: ['8BITMIME', 'ENHANCEDSTATUSCODES'] });
    const peerPort = await peer.listen();
    const runner = new QueueRunner({
      store,
      hostname: 'mx.uu.ac.kr',
      logger: silentLogger,
      resolver: new FakeResolver(),
      routing: { routes: { 'remote.example': { host: '127.0.0.1', port: peerPort, tls: 'none' } } },
      limits: { pollMs: 20, leaseMs: 5000 },
      smtp: { timeouts: { connect: 2000, initial: 2000 } },
    });
    runner.start();
    try {
      const end = Date.now() + 8000;
      while (peer.messages.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(peer.messages.length, 3);
      for (const m of peer.messages) {
        assert.match(m.mailLine, /^MAIL FROM:<>( |$)/);
        assert.equal(m.from, '');
        assert.match(m.data.toString(), /\r\nAuto-Submitted: auto-replied\r\n/);
      }
      assert.deepEqual(peer.messages.flatMap((m) => m.rcpts).sort(), [
        'bob@remote.example',
        'frank@remote.example',
        'hana@remote.example',
      ]);
    } finally {
      await runner.stop();
      await peer.close();
    }
  });
});
