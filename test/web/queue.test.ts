/**
 * Sending to remote recipients from the web: the message lands in the outbound queue (the same
 * path as SMTP submission), the admin API lists, retries and removes it; delivery status
 * notifications (RFC 3461 NOTIFY) and read-receipt requests (RFC 8098) asked for when composing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, startSite, type TestSite } from './support.js';

describe('web send: queue, DSN and read receipts', () => {
  let site: TestSite;
  let kihyun: Client;
  let root: Client;
  before(async () => {
    site = await startSite();
    kihyun = new Client(site.base);
    root = new Client(site.base);
    await kihyun.login('kihyun@uu.ac.kr');
    await root.login('root@uu.ac.kr');
  });
  after(() => site.close());

  it('queues mail to a remote recipient; admins list, retry and delete the entry', async () => {
    const r = await kihyun.req('POST', '/api/send', {
      to: 'bob@remote.example',
      subject: 'out',
      text: 'x',
      dsn: true,
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal((await kihyun.req('GET', '/api/admin/queue')).status, 403);
    const q = await root.req('GET', '/api/admin/queue');
    assert.equal(q.status, 200);
    assert.equal(q.json.entries.length, 1);
    const e = q.json.entries[0];
    assert.equal(e.mailFrom, 'kihyun@uu.ac.kr');
    assert.equal(e.authUser, 'kihyun@uu.ac.kr');
    assert.deepEqual(
      e.recipients.map((x: { address: string; state: string }) => [x.address, x.state]),
      [['bob@remote.example', 'pending']],
    );
    const stored = await site.store.queue.get(e.id);
    assert.deepEqual(stored?.recipients[0]?.notify, ['SUCCESS', 'FAILURE']);
    assert.equal((await root.req('POST', `/api/admin/queue/${e.id}/retry`, {})).status, 200);
    assert.equal((await root.req('DELETE', `/api/admin/queue/${e.id}`)).status, 200);
    assert.equal((await root.req('DELETE', `/api/admin/queue/${e.id}`)).status, 404);
    assert.equal((await root.req('GET', '/api/admin/queue')).json.entries.length, 0);
  });

  it('asks for a success notice and a read receipt when told to', async () => {
    const r = await kihyun.req('POST', '/api/send', {
      to: 'mina@uu.ac.kr',
      subject: 'please confirm',
      text: 'x',
      dsn: true,
      receipt: true,
    });
    assert.equal(r.status, 200);
    const mina = new Client(site.base);
    await mina.login('mina@uu.ac.kr');
    const got = (await mina.req('GET', '/api/mailboxes/INBOX/messages')).json.messages[0];
    const raw = (await mina.req('GET', `/api/messages/${got.id}/raw`)).body.toString();
    assert.match(raw, /^Disposition-Notification-To: kihyun@uu\.ac\.kr\r$/m);
    // The success notice is posted right after the commit: wait for it.
    let notice: string | undefined;
    for (let i = 0; i < 40 && !notice; i++) {
      const inbox = (await kihyun.req('GET', '/api/mailboxes/INBOX/messages')).json.messages;
      if (inbox.length)
        notice = (await kihyun.req('GET', `/api/messages/${inbox[0].id}/raw`)).body.toString();
      else await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(notice, 'a delivery status notification arrived');
    assert.match(notice, /multipart\/report; report-type=delivery-status/i);
    assert.match(notice, /Action: delivered/);
  });
});
