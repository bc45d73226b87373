/**
 * The vacation auto-reply over HTTP: reading and saving it in Settings (bad input is 400 with a
 * reason, nothing saved), and a message sent from the webmail to a user whose reply is on brings
 * the reply back into the sender's inbox.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, startSite, type TestSite } from './support.js';

describe('web settings: vacation auto-reply', () => {
  let site: TestSite;
  let kihyun: Client;
  before(async () => {
    site = await startSite();
    kihyun = new Client(site.base);
    await kihyun.login('kihyun@uu.ac.kr');
  });
  after(() => site.close());

  const good = {
    enabled: true,
    subject: '부재 중',
    text: '휴가 중입니다.\nBack on Monday.',
    intervalDays: 3,
  };

  it('starts off, refuses bad input with 400 and saves good input', async () => {
    const first = await kihyun.req('GET', '/api/settings/vacation');
    assert.equal(first.status, 200);
    assert.deepEqual(first.json.vacation, { enabled: false, subject: '', text: '', intervalDays: 7 });
    assert.equal(first.json.limits.maxDays, 365);

    const bad: Array<Record<string, unknown>> = [
      { ...good, enabled: undefined },
      { ...good, enabled: 'yes' },
      { ...good, intervalDays: 0 },
      { ...good, intervalDays: 366 },
      { ...good, intervalDays: 2.5 },
      { ...good, intervalDays: '7' },
      { ...good, subject: 'two\nlines' },
      { ...good, subject: 'x'.repeat(201) },
      { ...good, text: 'x'.repeat(64 * 1024 + 1) },
      { ...good, text: '한'.repeat(22_000) }, // under the character limit, over 64 KiB in UTF-8
      { ...good, text: '  ' },
      { ...good, text: 42 },
    ];
    for (const b of bad) {
      const r = await kihyun.req('PUT', '/api/settings/vacation', b);
      assert.equal(r.status, 400, JSON.stringify(b).slice(0, 80));
      assert.equal(typeof r.json.error, 'string');
    }
    assert.equal((await kihyun.req('GET', '/api/settings/vacation')).json.vacation.enabled, false);

    assert.equal((await kihyun.req('PUT', '/api/settings/vacation', good, { csrf: null })).status, 403);
    assert.equal((await new Client(site.base).req('GET', '/api/settings/vacation')).status, 401);

    const saved = await kihyun.req('PUT', '/api/settings/vacation', good);
    assert.equal(saved.status, 200);
    assert.deepEqual(saved.json.vacation, good);
    assert.deepEqual((await kihyun.req('GET', '/api/settings/vacation')).json.vacation, good);
    // Another user's settings are their own.
    const mina = new Client(site.base);
    await mina.login('mina@uu.ac.kr');
    assert.equal((await mina.req('GET', '/api/settings/vacation')).json.vacation.enabled, false);
  });

  it('a message sent from the webmail brings the auto-reply back, once', async () => {
    const mina = new Client(site.base);
    await mina.login('mina@uu.ac.kr');
    for (const subject of ['meeting', 'meeting again']) {
      const r = await mina.req('POST', '/api/send', { to: 'kihyun@uu.ac.kr', subject, text: 'hi' });
      assert.equal(r.status, 200);
    }
    let inbox: Array<{ id: string; subject: string; from: string }> = [];
    const end = Date.now() + 5000;
    while (inbox.length === 0 && Date.now() < end) {
      inbox = (await mina.req('GET', '/api/mailboxes/INBOX/messages')).json.messages;
      if (inbox.length === 0) await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(inbox.length, 1);
    assert.equal(inbox[0]!.subject, '부재 중');
    assert.equal(inbox[0]!.from, 'kihyun@uu.ac.kr');
    const raw = (await mina.req('GET', `/api/messages/${inbox[0]!.id}/raw`)).body.toString();
    assert.match(raw, /^Return-Path: <>\r\n/);
    assert.match(raw, /\r\nAuto-Submitted: auto-replied\r\n/);
    assert.match(raw, /\r\nIn-Reply-To: <[^>]+@uu\.ac\.kr>\r\n/);
    // The second message's reply would be there by now: the period holds.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await mina.req('GET', '/api/mailboxes/INBOX/messages')).json.messages.length, 1);
  });
});
