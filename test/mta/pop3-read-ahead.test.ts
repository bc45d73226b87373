/**
 * The POP3 maildrop over a real SQLite store, read in order by a client over TCP: every message
 * comes back exactly as stored, whichever way it was read, and reading in order takes a handful
 * of store calls instead of one per message. The store is the real one; the counting wrapper
 * only watches which of its read methods the maildrop calls.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import { Authenticator, hashPassword } from '../../src/mta/auth/index.js';
import { MaildropBackend } from '../../src/mta/inbound/index.js';
import { Pop3Client } from '../../src/pop3/client/index.js';
import { Pop3Server } from '../../src/pop3/index.js';
import { openSqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../support/tmp.js';

const USER = 'kihyun@uu.ac.kr';

function message(i: number, bodyOctets: number): Buffer {
  // Lines that start with "." must come back un-stuffed by the client, whatever path served them.
  const head = `From: a@example.org\r\nTo: ${USER}\r\nSubject: message ${i}\r\n\r\n.leading dot ${i}\r\n`;
  const line = `${i} ${'abcdefghij'.repeat(7)}\r\n`;
  return Buffer.from(head + line.repeat(Math.ceil(bodyOctets / line.length)));
}

describe('POP3 read-ahead over the SQLite store', () => {
  let store: Store;
  let server: Pop3Server;
  let port: number;
  const sent: Buffer[] = [];
  const calls = { read: 0, readSmall: 0 };

  before(async () => {
    // 64 KiB chunks: the 100 KiB message below is stored in two rows.
    store = await openSqliteStore(join(tempDir(), 'posthorn.db'), { chunkSize: 64 * 1024 });
    await store.domains.add('uu.ac.kr');
    const user = await store.users.add({ address: USER, passwordHash: await hashPassword('kihyun0') });
    const sizes = [
      ...Array.from({ length: 40 }, (_, i) => 200 + i * 97),
      40 * 1024, // one row, but too big to be held ahead
      100 * 1024, // two rows: always streamed
      ...Array.from({ length: 30 }, (_, i) => 3000 + i * 11),
    ];
    for (const [i, size] of sizes.entries()) {
      const bytes = message(i + 1, size);
      const d = await store.openDelivery({
        targets: [{ userId: user.id }],
        envelope: { mailFrom: 'a@example.org', rcptTo: [USER], mailParams: {} },
      });
      await d.write(bytes);
      await d.commit();
      sent.push(bytes);
    }
    const counted: Store = {
      ...store,
      messages: {
        ...store.messages,
        read: (id) => {
          calls.read++;
          return store.messages.read(id);
        },
        readSmall: (ids, budget) => {
          calls.readSmall++;
          return store.messages.readSmall(ids, budget);
        },
      },
    };
    const authenticator = new Authenticator(store, { defaultDomain: 'uu.ac.kr' });
    server = new Pop3Server({
      hostname: 'uu.ac.kr',
      backend: new MaildropBackend(counted, authenticator, silentLogger),
    });
    port = (await server.listen('127.0.0.1', 0)).port;
  });

  after(async () => {
    await server.close();
    await store.close();
  });

  it('RETR of every message in order: exact bytes, a few store calls for 72 messages', async () => {
    calls.read = 0;
    calls.readSmall = 0;
    const c = await Pop3Client.connect({ host: '127.0.0.1', port });
    await c.login('kihyun', 'kihyun0');
    assert.deepEqual(await c.stat(), { count: sent.length, size: sent.reduce((n, b) => n + b.length, 0) });
    for (let n = 1; n <= sent.length; n++) {
      assert.deepEqual(await c.retrBuffer(n), sent[n - 1], `message ${n}`);
    }
    await c.quit();
    // RETR 1 reads alone; 2..40 come from read-ahead calls of at most 32 messages; 41 and 42 are
    // too big to hold and stream; 43..72 are the next read-ahead after the first in-order read.
    assert.ok(calls.readSmall >= 2 && calls.readSmall <= 5, `readSmall called ${calls.readSmall} times`);
    assert.ok(calls.read <= 5, `read called ${calls.read} times`);
  });

  it('jumps and repeats are served right: out of order, twice, and TOP in between', async () => {
    const c = await Pop3Client.connect({ host: '127.0.0.1', port });
    await c.login(USER, 'kihyun0');
    for (const n of [5, 6, 7, 3, 8, 8, 72, 71, 41, 42, 43, 44, 1]) {
      assert.deepEqual(await c.retrBuffer(n), sent[n - 1], `message ${n}`);
    }
    const top: Buffer[] = [];
    for await (const chunk of await c.top(10, 0)) top.push(chunk);
    const head = sent[9]!.subarray(0, sent[9]!.indexOf('\r\n\r\n') + 4);
    assert.deepEqual(Buffer.concat(top), head);
    assert.deepEqual(await c.retrBuffer(11), sent[10]);
    await c.quit();
  });

  it('a message expunged after it was read ahead is still served once in that session (snapshot)', async () => {
    const c = await Pop3Client.connect({ host: '127.0.0.1', port });
    await c.login(USER, 'kihyun0');
    assert.deepEqual(await c.retrBuffer(20), sent[19]);
    assert.deepEqual(await c.retrBuffer(21), sent[20]); // in order: 21.. are now held ahead
    const user = (await store.users.get(USER))!;
    const box = await store.mailboxes.ensure(user.id, 'INBOX');
    const list = await store.messages.list(box.id);
    await store.messages.expunge(box.id, [list[21]!.id]);
    assert.deepEqual(await c.retrBuffer(22), sent[21]);
    // A message not held ahead and expunged meanwhile is refused, and the session goes on.
    await store.messages.expunge(box.id, [list[69]!.id]);
    await assert.rejects(c.retrBuffer(70), /-ERR/);
    assert.deepEqual(await c.retrBuffer(23), sent[22]);
    await c.quit();
  });
});
