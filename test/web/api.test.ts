/**
 * The web API over real HTTP (node's fetch) against an in-process Posthorn: sessions, CSRF,
 * authorisation (another user's message is 404), reading, filing, sending through the SMTP
 * backend, drafts, admin routes, server-sent events, and bad input (400, 413, 404).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { composeMessageToBuffer, parseMessage } from '../../src/mime/index.js';
import { Client, deliverSmtp, startSite, type TestSite } from './support.js';

const KOREAN_NAME = '보고서 2026.txt';
const ATTACHMENT = Buffer.from('분기 보고서 본문\n', 'utf8');

async function inboxIds(c: Client, box = 'INBOX'): Promise<Array<{ id: string; subject: string }>> {
  const r = await c.req('GET', `/api/mailboxes/${encodeURIComponent(box)}/messages?limit=200`);
  assert.equal(r.status, 200);
  return r.json.messages;
}

describe('web API', () => {
  let site: TestSite;
  let kihyun: Client;
  let mina: Client;
  let msgId: string;

  before(async () => {
    site = await startSite({ limits: { maxMessageBytes: 256 * 1024, eventPollMs: 100 } });
    const raw = await composeMessageToBuffer({
      from: 'Prof. Lee <lee@example.org>',
      to: 'kihyun@uu.ac.kr',
      subject: '분기 보고서',
      text: '첨부를 보세요.',
      html: '<p>hello</p><script>alert(1)</script><img src=x onerror="alert(2)">',
      attachments: [{ content: ATTACHMENT, filename: KOREAN_NAME, contentType: 'text/plain' }],
    });
    await deliverSmtp(site.smtpPort, 'lee@example.org', ['kihyun@uu.ac.kr'], raw);
    kihyun = new Client(site.base);
    mina = new Client(site.base);
    assert.equal((await kihyun.login('kihyun@uu.ac.kr')).status, 200);
    assert.equal((await mina.login('mina@uu.ac.kr')).status, 200);
    msgId = (await inboxIds(kihyun))[0]!.id;
  });
  after(() => site.close());

  it('answers unknown routes and anonymous calls with JSON errors', async () => {
    const anon = new Client(site.base);
    const r = await anon.req('GET', '/api/nope');
    assert.equal(r.status, 404);
    assert.equal(r.json.error, 'not found');
    assert.equal((await anon.req('GET', '/api/me')).status, 401);
    assert.equal((await anon.req('GET', '/api/mailboxes')).status, 401);
    assert.equal((await anon.req('GET', `/api/messages/${msgId}`)).status, 401);
  });

  it('logs in with a session cookie that is HttpOnly and SameSite=Strict', async () => {
    const c = new Client(site.base);
    const bad = await c.req('POST', '/api/login', { address: 'kihyun@uu.ac.kr', password: 'wrong' });
    assert.equal(bad.status, 401);
    const unknown = await c.req('POST', '/api/login', { address: 'nobody@uu.ac.kr', password: 'wrong' });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json.error, bad.json.error, 'unknown user and wrong password look the same');
    const r = await c.login('kihyun@uu.ac.kr');
    assert.equal(r.status, 200);
    const cookie = r.headers.get('set-cookie')!;
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);
    assert.doesNotMatch(cookie, /Secure/i, 'no Secure flag over plain HTTP');
    assert.match(cookie, /posthorn_session=[A-Za-z0-9_-]{43}/);
    const me = await c.req('GET', '/api/me');
    assert.deepEqual(me.json, { address: 'kihyun@uu.ac.kr', isAdmin: false, csrfToken: c.csrf });
    assert.equal((await c.req('POST', '/api/login', { address: 5, password: 'x' })).status, 400);
  });

  it('refuses state-changing requests without the CSRF token or from another origin', async () => {
    const path = `/api/messages/${msgId}/flags`;
    assert.equal((await kihyun.req('POST', path, { add: ['\\Flagged'] }, { csrf: null })).status, 403);
    assert.equal((await kihyun.req('POST', path, { add: ['\\Flagged'] }, { csrf: 'forged' })).status, 403);
    const cross = await kihyun.req(
      'POST',
      path,
      { add: ['\\Flagged'] },
      { headers: { origin: 'https://evil.example' } },
    );
    assert.equal(cross.status, 403);
    const loginCsrf = await new Client(site.base).req(
      'POST',
      '/api/login',
      { address: 'kihyun@uu.ac.kr', password: 'kihyun-pw-1' },
      { headers: { origin: 'https://evil.example' } },
    );
    assert.equal(loginCsrf.status, 403);
    const same = await kihyun.req('POST', path, { add: ['\\Flagged'] }, { headers: { origin: site.base } });
    assert.equal(same.status, 200);
    assert.ok(same.json.flags.includes('\\Flagged'));
    // Another session's token is no good either.
    assert.equal((await kihyun.req('POST', path, { add: ['\\Seen'] }, { csrf: mina.csrf })).status, 403);
  });

  it('lists the special mailboxes and a page of messages with decoded summaries', async () => {
    const r = await kihyun.req('GET', '/api/mailboxes');
    assert.deepEqual(
      r.json.mailboxes.map((m: { name: string }) => m.name),
      ['INBOX', 'Sent', 'Drafts', 'Trash'],
    );
    assert.equal(r.json.mailboxes[0].total, 1);
    const list = await kihyun.req('GET', '/api/mailboxes/INBOX/messages?offset=0&limit=10');
    assert.equal(list.json.total, 1);
    const m = list.json.messages[0];
    assert.equal(m.subject, '분기 보고서');
    assert.equal(m.from, 'Prof. Lee <lee@example.org>');
    assert.equal(m.hasAttachments, true);
    assert.ok(m.size > 0);
    assert.equal((await kihyun.req('GET', '/api/mailboxes/Nope/messages')).status, 404);
    const found = await kihyun.req('GET', '/api/mailboxes/INBOX/messages?q=%EB%B6%84%EA%B8%B0');
    assert.equal(found.json.total, 1);
    const none = await kihyun.req('GET', '/api/mailboxes/INBOX/messages?q=zzz-nothing');
    assert.equal(none.json.total, 0);
  });

  it('reads a message with decoded fields, text, html and attachments', async () => {
    const r = await kihyun.req('GET', `/api/messages/${msgId}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.subject, '분기 보고서');
    assert.equal(r.json.text.trim(), '첨부를 보세요.');
    assert.match(r.json.html, /<script>/, 'the raw HTML goes to the UI, which sanitizes it');
    assert.equal(r.json.attachments.length, 1);
    assert.equal(r.json.attachments[0].filename, KOREAN_NAME);
    assert.equal(r.json.mailbox, 'INBOX');
  });

  it('downloads an attachment with an RFC 6266 Korean file name, and the raw message', async () => {
    const r = await kihyun.req('GET', `/api/messages/${msgId}/attachments/0`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, ATTACHMENT);
    const cd = r.headers.get('content-disposition')!;
    assert.match(cd, /^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/);
    const star = /filename\*=UTF-8''(.+)$/.exec(cd)![1]!;
    assert.equal(decodeURIComponent(star), KOREAN_NAME);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.match(r.headers.get('content-security-policy')!, /sandbox/);
    assert.equal((await kihyun.req('GET', `/api/messages/${msgId}/attachments/1`)).status, 404);
    assert.equal((await kihyun.req('GET', `/api/messages/${msgId}/attachments/x`)).status, 404);
    const raw = await kihyun.req('GET', `/api/messages/${msgId}/raw`);
    assert.equal(raw.status, 200);
    assert.match(raw.body.toString('latin1'), /^(Return-Path|Received): /);
    const parsed = await parseMessage(raw.body);
    assert.equal(parsed.subject, '분기 보고서');
  });

  it("answers 404 for another user's message on every route", async () => {
    const base = `/api/messages/${msgId}`;
    assert.equal((await mina.req('GET', base)).status, 404);
    assert.equal((await mina.req('GET', `${base}/raw`)).status, 404);
    assert.equal((await mina.req('GET', `${base}/attachments/0`)).status, 404);
    assert.equal((await mina.req('GET', `${base}/template?mode=reply`)).status, 404);
    assert.equal((await mina.req('POST', `${base}/flags`, { add: ['\\Seen'] })).status, 404);
    assert.equal((await mina.req('POST', `${base}/move`, { to: 'Trash' })).status, 404);
    assert.equal((await mina.req('DELETE', base, undefined)).status, 404);
    const fwd = await mina.req('POST', '/api/send', { to: 'mina@uu.ac.kr', forwardOf: msgId });
    assert.equal(fwd.status, 404);
    assert.equal((await mina.req('GET', '/api/messages/does-not-exist')).status, 404);
    // Still there, untouched, for its owner.
    const mine = await kihyun.req('GET', base);
    assert.equal(mine.status, 200);
    assert.equal(mine.json.mailbox, 'INBOX');
  });

  it('sets and clears flags', async () => {
    const path = `/api/messages/${msgId}/flags`;
    let r = await kihyun.req('POST', path, { add: ['\\Seen'] });
    assert.ok(r.json.flags.includes('\\Seen'));
    const boxes = await kihyun.req('GET', '/api/mailboxes');
    assert.equal(boxes.json.mailboxes[0].unseen, 0);
    r = await kihyun.req('POST', path, { remove: ['\\Seen'] });
    assert.ok(!r.json.flags.includes('\\Seen'));
    assert.equal((await kihyun.req('POST', path, { add: 'x' })).status, 400);
    assert.equal((await kihyun.req('POST', path, { add: ['bad flag'] })).status, 400);
  });

  it('sends to a local user through the SMTP backend and keeps a copy in Sent', async () => {
    const r = await kihyun.req('POST', '/api/send', {
      to: '민아 <mina@uu.ac.kr>',
      subject: '회의 시간',
      text: '내일 10시에 만나요.',
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.sentCopy, true);
    const got = await inboxIds(mina);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.subject, '회의 시간');
    const raw = await mina.req('GET', `/api/messages/${got[0]!.id}/raw`);
    const text = raw.body.toString('utf8');
    assert.match(text, /^Return-Path: <kihyun@uu\.ac\.kr>/m);
    assert.match(text, /Message-ID: </i);
    const sent = await inboxIds(kihyun, 'Sent');
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.subject, '회의 시간');
  });

  it('sends multipart with an attachment, and refuses bad recipients', async () => {
    const form = new FormData();
    form.set('to', 'mina@uu.ac.kr');
    form.set('subject', 'with file');
    form.set('text', 'see attached');
    form.set('attachment', new Blob([Buffer.from('hello file')], { type: 'text/plain' }), '첨부.txt');
    const r = await kihyun.req('POST', '/api/send', undefined, { raw: form });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const msgs = await inboxIds(mina);
    const withFile = msgs.find((m) => m.subject === 'with file')!;
    const full = await mina.req('GET', `/api/messages/${withFile.id}`);
    assert.equal(full.json.attachments[0].filename, '첨부.txt');
    const dl = await mina.req('GET', `/api/messages/${withFile.id}/attachments/0`);
    assert.equal(dl.body.toString(), 'hello file');

    const unknown = await kihyun.req('POST', '/api/send', { to: 'ghost@uu.ac.kr', text: 'x' });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.json.refused[0].address, 'ghost@uu.ac.kr');
    assert.match(unknown.json.refused[0].reply, /^550/);
    assert.equal((await kihyun.req('POST', '/api/send', { to: '', text: 'x' })).status, 400);
    assert.equal((await kihyun.req('POST', '/api/send', { to: 'not an address', text: 'x' })).status, 400);
  });

  it('forwards with the original attachments and builds reply templates', async () => {
    const tpl = await kihyun.req('GET', `/api/messages/${msgId}/template?mode=reply`);
    assert.equal(tpl.status, 200);
    assert.equal(tpl.json.to, 'lee@example.org');
    assert.equal(tpl.json.subject, 'Re: 분기 보고서');
    assert.match(tpl.json.text, /> 첨부를 보세요\./);
    assert.ok(tpl.json.inReplyTo);
    const fwdTpl = await kihyun.req('GET', `/api/messages/${msgId}/template?mode=forward`);
    assert.equal(fwdTpl.json.subject, 'Fwd: 분기 보고서');
    assert.equal(fwdTpl.json.forwardOf, msgId);
    const r = await kihyun.req('POST', '/api/send', {
      to: 'mina@uu.ac.kr',
      subject: fwdTpl.json.subject,
      text: fwdTpl.json.text,
      forwardOf: msgId,
    });
    assert.equal(r.status, 200);
    const fwd = (await inboxIds(mina)).find((m) => m.subject === 'Fwd: 분기 보고서')!;
    const full = await mina.req('GET', `/api/messages/${fwd.id}`);
    assert.equal(full.json.attachments[0].filename, KOREAN_NAME);
  });

  it('saves drafts, replaces them, and drops the draft on send', async () => {
    const d1 = await kihyun.req('POST', '/api/drafts', {
      to: 'mina@uu.ac.kr',
      subject: 'draft 1',
      text: 'a',
    });
    assert.equal(d1.status, 201);
    const d2 = await kihyun.req('POST', '/api/drafts', {
      to: 'mina@uu.ac.kr',
      subject: 'draft 2',
      text: 'b',
      draftId: d1.json.id,
    });
    assert.equal(d2.status, 201);
    let drafts = await inboxIds(kihyun, 'Drafts');
    assert.deepEqual(
      drafts.map((d) => d.subject),
      ['draft 2'],
    );
    const s = await kihyun.req('POST', '/api/send', {
      to: 'mina@uu.ac.kr',
      subject: 'draft 2',
      draftId: d2.json.id,
    });
    assert.equal(s.status, 200);
    drafts = await inboxIds(kihyun, 'Drafts');
    assert.equal(drafts.length, 0);
  });

  it('creates folders, moves, deletes to Trash and expunges from Trash', async () => {
    assert.equal((await kihyun.req('POST', '/api/mailboxes', { name: 'Projects' })).status, 201);
    assert.equal((await kihyun.req('POST', '/api/mailboxes', { name: 'Projects' })).status, 409);
    assert.equal((await kihyun.req('POST', '/api/mailboxes', { name: '' })).status, 400);
    const sent = (await inboxIds(kihyun, 'Sent'))[0]!;
    const mv = await kihyun.req('POST', `/api/messages/${sent.id}/move`, { to: 'Projects' });
    assert.equal(mv.status, 200);
    assert.equal((await kihyun.req('POST', `/api/messages/${sent.id}/move`, { to: 'Nowhere' })).status, 404);
    const inProjects = (await inboxIds(kihyun, 'Projects'))[0]!;
    assert.equal(inProjects.subject, sent.subject);
    const del = await kihyun.req('DELETE', `/api/messages/${inProjects.id}`);
    assert.deepEqual(del.json, { ok: true, expunged: false });
    const inTrash = (await inboxIds(kihyun, 'Trash'))[0]!;
    const del2 = await kihyun.req('DELETE', `/api/messages/${inTrash.id}`);
    assert.deepEqual(del2.json, { ok: true, expunged: true });
    assert.equal((await inboxIds(kihyun, 'Trash')).length, 0);
    assert.equal((await kihyun.req('GET', `/api/messages/${inTrash.id}`)).status, 404);
  });

  it('answers malformed JSON with 400 and oversized bodies with 413', async () => {
    const bad = await kihyun.req('POST', '/api/send', undefined, {
      raw: '{"to": ',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(bad.status, 400);
    assert.ok(bad.json.error);
    const form = new FormData();
    form.set('to', 'mina@uu.ac.kr');
    form.set('attachment', new Blob([Buffer.alloc(300 * 1024, 0x61)]), 'big.bin');
    const big = await kihyun.req('POST', '/api/send', undefined, { raw: form });
    assert.equal(big.status, 413);
    const hugeJson = await kihyun.req('POST', '/api/drafts', { text: 'x'.repeat(1100 * 1024) });
    assert.equal(hugeJson.status, 413);
  });

  it('keeps admin routes for admins', async () => {
    assert.equal((await kihyun.req('GET', '/api/admin/users')).status, 403);
    assert.equal((await kihyun.req('POST', '/api/admin/domains', { name: 'x.example' })).status, 403);
    const root = new Client(site.base);
    await root.login('root@uu.ac.kr');
    assert.equal((await root.req('GET', '/api/me')).json.isAdmin, true);
    assert.equal((await root.req('POST', '/api/admin/domains', { name: 'lab.example' })).status, 201);
    assert.equal((await root.req('POST', '/api/admin/domains', { name: 'lab.example' })).status, 409);
    assert.equal((await root.req('POST', '/api/admin/domains', { name: 'bad domain' })).status, 400);
    const domains = await root.req('GET', '/api/admin/domains');
    assert.deepEqual(domains.json.domains.map((d: { name: string }) => d.name).sort(), [
      'lab.example',
      'uu.ac.kr',
    ]);
    const add = await root.req('POST', '/api/admin/users', {
      address: 'new@lab.example',
      password: 'longenough',
    });
    assert.equal(add.status, 201);
    assert.equal(
      (await root.req('POST', '/api/admin/users', { address: 'x@lab.example', password: 'short' })).status,
      400,
    );
    assert.equal(
      (await root.req('POST', '/api/admin/users', { address: 'x@nowhere.example', password: 'longenough' }))
        .status,
      400,
    );
    assert.equal((await new Client(site.base).login('new@lab.example', 'longenough')).status, 200);
    assert.equal(
      (await root.req('DELETE', '/api/admin/domains/lab.example')).status,
      409,
      'domain still has a user',
    );
    const alias = await root.req('POST', '/api/admin/aliases', {
      address: 'team@lab.example',
      targets: ['new@lab.example'],
    });
    assert.equal(alias.status, 201);
    const aliases = await root.req('GET', '/api/admin/aliases');
    assert.ok(aliases.json.aliases.some((a: { address: string }) => a.address === 'team@lab.example'));
    assert.equal((await root.req('DELETE', '/api/admin/aliases/team@lab.example')).status, 200);
    assert.equal((await root.req('DELETE', '/api/admin/aliases/team@lab.example')).status, 404);
    assert.equal((await root.req('DELETE', '/api/admin/users/new@lab.example')).status, 200);
    assert.equal((await root.req('DELETE', '/api/admin/users/root@uu.ac.kr')).status, 409);
    assert.equal((await root.req('DELETE', '/api/admin/domains/lab.example')).status, 200);
    const users = await root.req('GET', '/api/admin/users');
    assert.ok(!users.json.users.some((u: { address: string }) => u.address === 'new@lab.example'));
  });

  it('streams a new-mail event when a message arrives over SMTP', async () => {
    const ac = new AbortController();
    const r = await fetch(`${site.base}/api/events`, { headers: { cookie: mina.cookie }, signal: ac.signal });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/event-stream/);
    const reader = r.body!.getReader();
    let text = '';
    const until = async (re: RegExp) => {
      const deadline = Date.now() + 5000;
      while (!re.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${re} in ${text}`);
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        text += Buffer.from(value).toString('utf8');
      }
    };
    await until(/event: ready/);
    await deliverSmtp(site.smtpPort, 'x@example.org', ['mina@uu.ac.kr'], 'Subject: ping\r\n\r\nhi\r\n');
    await until(/event: mailbox\ndata: \{"name":"INBOX"[^\n]*\n\n/);
    const data = JSON.parse(/event: mailbox\ndata: (\{"name":"INBOX".*)\n/.exec(text)![1]!);
    const box = (await site.store.mailboxes.get((await site.store.users.get('mina@uu.ac.kr'))!.id, 'INBOX'))!;
    assert.equal(data.uidNext, box.uidNext);
    ac.abort();
    assert.equal((await new Client(site.base).req('GET', '/api/events')).status, 401);
  });

  it('logs out: the session cookie stops working', async () => {
    const c = new Client(site.base);
    await c.login('mina@uu.ac.kr');
    const old = c.cookie;
    assert.equal((await c.req('POST', '/api/logout', {})).status, 200);
    c.cookie = old;
    assert.equal((await c.req('GET', '/api/me')).status, 401);
  });
});

describe('web login rate limiting', () => {
  let site: TestSite;
  before(async () => {
    site = await startSite({ loginLimit: { maxFailures: 3 } });
  });
  after(() => site.close());

  it('refuses further logins with 429 after too many failures, even with the right password', async () => {
    const c = new Client(site.base);
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await c.req('POST', '/api/login', { address: 'mina@uu.ac.kr', password: `guess${i}` })).status,
        401,
      );
    }
    const r = await c.login('mina@uu.ac.kr');
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    // Per IP too: another account from the same client is held back as well.
    assert.equal((await c.login('kihyun@uu.ac.kr')).status, 429);
  });
});
