/**
 * A user's settings over HTTP: password change (current password required, other sessions end,
 * the new password works over SMTP AUTH's authenticator too) and forwarding, which the SMTP
 * backend then applies to incoming mail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, deliverSmtp, startSite, type TestSite } from './support.js';

describe('web settings', () => {
  let site: TestSite;
  before(async () => {
    site = await startSite();
  });
  after(() => site.close());

  it('changes the password with the current one and ends the other sessions', async () => {
    const a = new Client(site.base);
    const b = new Client(site.base);
    await a.login('mina@uu.ac.kr');
    await b.login('mina@uu.ac.kr');
    const wrong = await a.req('POST', '/api/settings/password', {
      current: 'nope',
      password: 'new-password-1',
    });
    assert.equal(wrong.status, 403);
    const short = await a.req('POST', '/api/settings/password', { current: 'mina-pw-12', password: 'short' });
    assert.equal(short.status, 400);
    const noCsrf = await a.req(
      'POST',
      '/api/settings/password',
      { current: 'mina-pw-12', password: 'new-password-1' },
      { csrf: null },
    );
    assert.equal(noCsrf.status, 403);
    const ok = await a.req('POST', '/api/settings/password', {
      current: 'mina-pw-12',
      password: 'new-password-1',
    });
    assert.equal(ok.status, 200);
    assert.equal((await a.req('GET', '/api/me')).status, 200, 'this session stays');
    assert.equal((await b.req('GET', '/api/me')).status, 401, 'the other session ended');
    assert.equal((await new Client(site.base).login('mina@uu.ac.kr', 'mina-pw-12')).status, 401);
    assert.equal((await new Client(site.base).login('mina@uu.ac.kr', 'new-password-1')).status, 200);
  });

  it('sets forwarding, which incoming mail then follows, and clears it', async () => {
    const k = new Client(site.base);
    await k.login('kihyun@uu.ac.kr');
    assert.deepEqual((await k.req('GET', '/api/settings/forward')).json, { forward: null });
    assert.equal((await k.req('POST', '/api/settings/forward', { targets: ['bad'] })).status, 400);
    assert.equal(
      (await k.req('POST', '/api/settings/forward', { targets: ['kihyun@uu.ac.kr'] })).status,
      400,
    );
    const set = await k.req('POST', '/api/settings/forward', { targets: ['root@uu.ac.kr'], keep: true });
    assert.deepEqual(set.json, { forward: { targets: ['root@uu.ac.kr'], keep: true } });
    assert.deepEqual((await k.req('GET', '/api/settings/forward')).json, set.json);
    await deliverSmtp(site.smtpPort, 'x@example.org', ['kihyun@uu.ac.kr'], 'Subject: fwd me\r\n\r\nhi\r\n');
    const root = new Client(site.base);
    await root.login('root@uu.ac.kr');
    const rootInbox = await root.req('GET', '/api/mailboxes/INBOX/messages');
    assert.equal(rootInbox.json.messages[0].subject, 'fwd me');
    const own = await k.req('GET', '/api/mailboxes/INBOX/messages');
    assert.equal(own.json.messages[0].subject, 'fwd me', 'keep: a copy stays');
    const cleared = await k.req('POST', '/api/settings/forward', { targets: [] });
    assert.deepEqual(cleared.json, { forward: null });
  });
});
