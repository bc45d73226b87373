/**
 * The SMTP server with the inbound backend over real stores (memory and SQLite): policy replies,
 * atomic multi-recipient delivery, the submission sender rule, and exact stored bytes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import { Authenticator, hashPassword } from '../../src/mta/auth/index.js';
import { InboundBackend } from '../../src/mta/inbound/index.js';
import { SmtpServer } from '../../src/smtp/index.js';
import { createMemoryStore, openSqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../support/tmp.js';
import { LineClient, play, transcript } from '../support/transcript.js';

async function readAll(store: Store, address: string): Promise<Buffer[]> {
  const user = (await store.users.get(address))!;
  const box = await store.mailboxes.ensure(user.id, 'INBOX');
  const out: Buffer[] = [];
  for (const m of await store.messages.list(box.id)) {
    const chunks: Buffer[] = [];
    for await (const c of store.messages.read(m.id)) chunks.push(Buffer.from(c));
    out.push(Buffer.concat(chunks));
  }
  return out;
}

const stores: Array<[string, () => Promise<Store>]> = [
  ['memory', async () => createMemoryStore()],
  ['sqlite', async () => openSqliteStore(join(tempDir(), 'posthorn.db'))],
];

for (const [kind, open] of stores) {
  describe(`inbound delivery over the ${kind} store`, () => {
    let store: Store;
    let mx: SmtpServer;
    let submission: SmtpServer;
    let mxPort: number;
    let subPort: number;

    before(async () => {
      store = await open();
      await store.domains.add('uu.ac.kr');
      for (const u of ['kihyun@uu.ac.kr', 'mina@uu.ac.kr']) {
        await store.users.add({ address: u, passwordHash: await hashPassword('pw-' + u.split('@')[0]) });
      }
      await store.aliases.add('team@uu.ac.kr', ['kihyun@uu.ac.kr', 'mina@uu.ac.kr']);
      await store.aliases.add('info@uu.ac.kr', ['kihyun@uu.ac.kr']);
      const backend = new InboundBackend({
        store,
        hostname: 'mx.uu.ac.kr',
        logger: silentLogger,
        authenticator: new Authenticator(store, { defaultDomain: 'uu.ac.kr' }),
      });
      mx = new SmtpServer({ hostname: 'mx.uu.ac.kr', backend, limits: { maxMessageSize: 64 * 1024 } });
      submission = new SmtpServer({
        hostname: 'mx.uu.ac.kr',
        backend,
        listener: 'submission',
        requireAuth: true,
      });
      mxPort = (await mx.listen('127.0.0.1', 0)).port;
      subPort = (await submission.listen('127.0.0.1', 0)).port;
    });
    after(async () => {
      await mx.close();
      await submission.close();
      await store.close();
    });

    it('delivers one copy to each user an alias and a direct RCPT reach, with trace headers', async () => {
      await transcript(
        mxPort,
        `
        S: 220 mx.uu.ac.kr ESMTP Posthorn
        C: EHLO sender.example
        S* 250 *
        C: MAIL FROM:<a@example.org> SIZE=100
        C: RCPT TO:<team@uu.ac.kr>
        C: RCPT TO:<KIHYUN@uu.ac.kr>
        C: DATA
        S: 250 2.1.0 *
        S: 250 2.1.5 *
        S: 250 2.1.5 *
        S: 354 *
        C: Subject: to the team
        C:
        C: hi all
        C: .
        S: 250 2.0.0 *
        C: QUIT
        S: 221 *
        `,
      );
      const k = await readAll(store, 'kihyun@uu.ac.kr');
      const m = await readAll(store, 'mina@uu.ac.kr');
      assert.equal(k.length, 1, 'kihyun gets one copy though reached twice');
      assert.equal(m.length, 1);
      const text = k[0]!.toString();
      assert.match(
        text,
        /^Return-Path: <a@example\.org>\r\nReceived: from sender\.example \(\[127\.0\.0\.1\]\)\r\n\tby mx\.uu\.ac\.kr \(Posthorn\) with ESMTP id \S+;\r\n\t\w{3}, /,
      );
      assert.doesNotMatch(text, /\tfor </, 'no "for" clause with several recipients');
      assert.ok(text.endsWith('\r\nSubject: to the team\r\n\r\nhi all\r\n'));
      assert.deepEqual(k[0], m[0]);
    });

    it('answers 550 for unknown users and 554 for relaying, and stores nothing after a 552', async () => {
      const before = (await readAll(store, 'kihyun@uu.ac.kr')).length;
      const c = await LineClient.connect(mxPort);
      await play(
        c,
        `
        S: 220 *
        C: HELO sender.example
        S: 250 *
        C: MAIL FROM:<a@example.org>
        S: 250 *
        C: RCPT TO:<ghost@uu.ac.kr>
        S: 550 5.1.1 *
        C: RCPT TO:<someone@gmail.example>
        S: 554 5.7.1 *
        C: RCPT TO:<kihyun@uu.ac.kr>
        S: 250 *
        C: DATA
        S: 354 *
        `,
      );
      c.write(`Subject: too big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(80));
      c.write('.\r\n');
      await play(c, 'S: 552 5.3.4 *\nC: QUIT\nS: 221 *');
      c.close();
      assert.equal((await readAll(store, 'kihyun@uu.ac.kr')).length, before);
    });

    it('submission: AUTH first, then only own addresses and aliases as sender', async () => {
      const auth = Buffer.from('\0kihyun@uu.ac.kr\0pw-kihyun').toString('base64');
      await transcript(
        subPort,
        `
        S: 220 *
        C: EHLO client
        S* 250 *
        C: MAIL FROM:<kihyun@uu.ac.kr>
        S: 530 5.7.0 *
        C: AUTH PLAIN ${auth}
        S: 235 2.7.0 *
        C: MAIL FROM:<mina@uu.ac.kr>
        S: 553 5.7.1 *
        C: MAIL FROM:<info@uu.ac.kr>
        S: 250 *
        C: RSET
        S: 250 *
        C: MAIL FROM:<kihyun@uu.ac.kr>
        S: 250 *
        C: RCPT TO:<mina@uu.ac.kr>
        S: 250 *
        C: RCPT TO:<friend@elsewhere.example>
        S: 250 *
        C: DATA
        S: 354 *
        C: Subject: one local, one remote
        C:
        C: hello both
        C: .
        S: 250 *
        C: QUIT
        S: 221 *
        `,
      );
      // One commit: the local copy in mina's mailbox, the remote recipient in the queue, and the
      // submission fix-ups (Date, Message-ID) on both, since the bytes are stored once.
      const mina = await readAll(store, 'mina@uu.ac.kr');
      const local = mina.at(-1)!.toString();
      assert.match(
        local,
        /^Return-Path: <kihyun@uu\.ac\.kr>\r\nReceived: [\s\S]*\r\nDate: [^\r]+\r\nMessage-ID: <[^>]+@mx\.uu\.ac\.kr>\r\nSubject: one local, one remote\r\n\r\nhello both\r\n$/,
      );
      const queued = (await store.queue.list()).filter((e) =>
        e.recipients.some((r) => r.address === 'friend@elsewhere.example'),
      );
      assert.equal(queued.length, 1);
      assert.equal(queued[0]!.mailFrom, 'kihyun@uu.ac.kr');
      assert.equal(
        queued[0]!.sha256,
        mina.length > 0
          ? (
              await store.messages.list(
                (await store.mailboxes.get((await store.users.get('mina@uu.ac.kr'))!.id, 'INBOX'))!.id,
              )
            ).at(-1)!.sha256
          : '',
      );
      await store.queue.remove(queued[0]!.id);
    });
  });
}
