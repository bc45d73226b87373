/**
 * The inbound side of outbound mail, over real SMTP sessions: aliases and `user forward` to remote
 * addresses are queued with an SRS reverse path, an SRS bounce coming back is returned to the
 * original sender, NOTIFY=SUCCESS for local delivery sends a notice, and failed AUTH is slowed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import { Authenticator, hashPassword } from '../../src/mta/auth/index.js';
import { InboundBackend } from '../../src/mta/inbound/index.js';
import { srsForward } from '../../src/mta/outbound/index.js';
import { SmtpServer } from '../../src/smtp/index.js';
import { createMemoryStore, type Store } from '../../src/store/index.js';
import { LineClient, play, transcript } from '../support/transcript.js';

const SECRET = 'forwarding-test-secret';

async function inbox(store: Store, address: string): Promise<string[]> {
  const u = (await store.users.get(address))!;
  const box = await store.mailboxes.ensure(u.id, 'INBOX');
  const out: string[] = [];
  for (const m of await store.messages.list(box.id)) {
    const parts: Buffer[] = [];
    for await (const c of store.messages.read(m.id)) parts.push(Buffer.from(c));
    out.push(Buffer.concat(parts).toString());
  }
  return out;
}

describe('forwarding, SRS and notices', () => {
  let store: Store;
  let server: SmtpServer;
  let port: number;

  before(async () => {
    store = createMemoryStore();
    await store.domains.add('uu.ac.kr');
    for (const u of ['kihyun', 'mina', 'alice']) {
      await store.users.add({ address: `${u}@uu.ac.kr`, passwordHash: await hashPassword(`pw-${u}`) });
    }
    await store.aliases.add('team@uu.ac.kr', ['kihyun@uu.ac.kr', 'x@gmail.test']);
    await store.users.setForward('mina@uu.ac.kr', { targets: ['m@gmail.test'], keep: false });
    const backend = new InboundBackend({
      store,
      hostname: 'mx.uu.ac.kr',
      logger: silentLogger,
      authenticator: new Authenticator(store, { defaultDomain: 'uu.ac.kr' }),
      srsSecret: SECRET,
      loginDelay: { baseMs: 1000 },
    });
    server = new SmtpServer({ hostname: 'mx.uu.ac.kr', backend });
    port = (await server.listen('127.0.0.1', 0)).port;
  });
  after(async () => {
    await server.close();
    await store.close();
  });

  it('alias and user forward to remote addresses: queued once, sender rewritten by SRS', async () => {
    await transcript(
      port,
      `
      S: 220 *
      C: EHLO mail.example.org
      S* 250 *
      C: MAIL FROM:<alice@example.org>
      S: 250 *
      C: RCPT TO:<team@uu.ac.kr>
      S: 250 *
      C: RCPT TO:<mina@uu.ac.kr> NOTIFY=FAILURE
      S: 250 *
      C: DATA
      S: 354 *
      C: Subject: to the team
      C:
      C: hi
      C: .
      S: 250 *
      C: QUIT
      S: 221 *
      `,
    );
    assert.equal((await inbox(store, 'kihyun@uu.ac.kr')).length, 1);
    assert.equal((await inbox(store, 'mina@uu.ac.kr')).length, 0, 'forward without --keep');
    const [e, ...rest] = await store.queue.list();
    assert.equal(rest.length, 0);
    assert.equal(e!.mailFrom, srsForward('alice@example.org', 'uu.ac.kr', SECRET));
    assert.deepEqual(
      e!.recipients.map((r) => [r.address, r.orcpt, r.notify]),
      [
        ['x@gmail.test', 'rfc822;team@uu.ac.kr', undefined],
        ['m@gmail.test', 'rfc822;mina@uu.ac.kr', ['FAILURE']],
      ],
    );
    assert.ok((await inbox(store, 'kihyun@uu.ac.kr'))[0]!.endsWith('Subject: to the team\r\n\r\nhi\r\n'));
    await store.queue.remove(e!.id);
  });

  it('a bounce to our SRS address goes back to the original sender; a forged one is refused', async () => {
    const srs = srsForward('alice@example.org', 'uu.ac.kr', SECRET);
    const forged = srs.replace(/^SRS0=..../, 'SRS0=AAAA');
    await transcript(
      port,
      `
      S: 220 *
      C: EHLO mx.gmail.test
      S* 250 *
      C: MAIL FROM:<>
      S: 250 *
      C: RCPT TO:<${forged}>
      S: 550 5.1.1 *
      C: RCPT TO:<${srs}>
      S: 250 *
      C: DATA
      S: 354 *
      C: Subject: Undelivered Mail Returned to Sender
      C:
      C: sorry
      C: .
      S: 250 *
      C: QUIT
      S: 221 *
      `,
    );
    const [e] = await store.queue.list();
    assert.equal(e!.mailFrom, '', 'a returned bounce keeps the null sender');
    assert.deepEqual(
      e!.recipients.map((r) => r.address),
      ['alice@example.org'],
    );
    await store.queue.remove(e!.id);
  });

  it('NOTIFY=SUCCESS for a local mailbox: the (local) sender gets a "delivered" notice', async () => {
    const auth = Buffer.from('\0alice@uu.ac.kr\0pw-alice').toString('base64');
    await transcript(
      port,
      `
      S: 220 *
      C: EHLO laptop
      S* 250 *
      C: AUTH PLAIN ${auth}
      S: 235 *
      C: MAIL FROM:<alice@uu.ac.kr> ENVID=track-7
      S: 250 *
      C: RCPT TO:<kihyun@uu.ac.kr> NOTIFY=SUCCESS ORCPT=rfc822;Kihyun@uu.ac.kr
      S: 250 *
      C: DATA
      S: 354 *
      C: Subject: please confirm
      C:
      C: body
      C: .
      S: 250 *
      C: QUIT
      S: 221 *
      `,
    );
    for (let i = 0; i < 100 && (await inbox(store, 'alice@uu.ac.kr')).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const [notice] = await inbox(store, 'alice@uu.ac.kr');
    assert.ok(notice, 'a notice arrived');
    assert.match(notice, /^Return-Path: <>\r\n/);
    assert.match(notice, /Subject: Successful Mail Delivery Report\r\n/);
    assert.match(notice, /Original-Envelope-Id: track-7\r\n/);
    assert.match(
      notice,
      /Final-Recipient: rfc822; kihyun@uu\.ac\.kr\r\nOriginal-Recipient: rfc822;Kihyun@uu\.ac\.kr\r\nAction: delivered\r\nStatus: 2\.0\.0\r\n/,
    );
    assert.match(notice, /text\/rfc822-headers\r\n\r\n[\s\S]*Subject: please confirm\r\n/);
  });

  it('a message with 50 Received fields is refused as a mail loop (RFC 5321 §6.3)', async () => {
    const c = await LineClient.connect(port);
    try {
      await play(
        c,
        'S: 220 *\nC: EHLO loop.test\nS* 250 *\nC: MAIL FROM:<a@loop.test>\nS: 250 *\nC: RCPT TO:<kihyun@uu.ac.kr>\nS: 250 *\nC: DATA\nS: 354 *',
      );
      const before = (await inbox(store, 'kihyun@uu.ac.kr')).length;
      c.socket.write(
        `${'Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n'.repeat(50)}Subject: loop\r\n\r\nround and round\r\n.\r\n`,
      );
      await play(c, 'S: 554 5.4.6 *\nC: QUIT\nS: 221 *');
      assert.equal((await inbox(store, 'kihyun@uu.ac.kr')).length, before);
    } finally {
      c.close();
    }
  });

  it('failed AUTH is answered after a growing delay (per IP and account)', async () => {
    const c = await LineClient.connect(port);
    try {
      await play(c, 'S: 220 *\nC: EHLO guesser\nS* 250 *');
      const times: number[] = [];
      for (let i = 0; i < 2; i++) {
        const bad = Buffer.from(`\0kihyun@uu.ac.kr\0wrong${i}`).toString('base64');
        const t0 = Date.now();
        await play(c, `C: AUTH PLAIN ${bad}\nS: 535 *`);
        times.push(Date.now() - t0);
      }
      // Checking the password (scrypt) takes about the same time each round; the second failure
      // waits the base delay (1 s) on top.
      assert.ok(times[1]! - times[0]! >= 700, `second failure delayed (${times.join(', ')} ms)`);
    } finally {
      c.close();
    }
  });
});
