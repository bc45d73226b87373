/**
 * What the user agent puts on the wire when submitting, checked by an in-process SMTP server that
 * records the envelope: NOTIFY per recipient, RET=HDRS and ENVID = the Message-ID (RFC 3461),
 * Bcc in the envelope only, AUTH before MAIL, and the Sent copy equal to the bytes sent.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type Account, Maildir, parseEndpoint, SENT, sendComposed } from '../../src/ua/index.js';
import { startServer } from '../smtp/harness.js';
import { tempDir } from '../support/tmp.js';

test('--notify becomes NOTIFY/RET/ENVID; Bcc stays out of the header; the Sent copy is the sent bytes', async () => {
  const h = await startServer({}, { localDomains: ['example.org'], passwords: { 'me@example.org': 'pw' } });
  const account: Account = {
    name: 't',
    address: 'me@example.org',
    smtp: parseEndpoint(`127.0.0.1:${h.port}`, 'smtp', 'none'),
    pop3: parseEndpoint('127.0.0.1:9', 'pop3', 'none'),
    tls: 'none',
    tlsVerify: true,
    user: 'me@example.org',
  };
  const sent = new Maildir(tempDir());
  const r = await sendComposed(
    account,
    'pw',
    { from: 'me@example.org', to: '김 <a@example.org>, b@example.org', subject: '배달 확인', text: '본문' },
    { bcc: ['hidden@example.org'], notify: ['SUCCESS', 'FAILURE'], receipt: true, sent },
  );
  assert.deepEqual(r.delivered, ['a@example.org', 'b@example.org', 'hidden@example.org']);
  const [m] = h.backend.messages;
  assert.ok(m);
  assert.equal(m.from, 'me@example.org');
  assert.deepEqual(
    m.rcpts.map((x) => [x.to, x.opts.notify]),
    [
      ['a@example.org', ['SUCCESS', 'FAILURE']],
      ['b@example.org', ['SUCCESS', 'FAILURE']],
      ['hidden@example.org', ['SUCCESS', 'FAILURE']],
    ],
  );
  assert.equal(m.mailOptions.ret, 'HDRS');
  const messageId = /^Message-ID: <([^>]+)>\r$/m.exec(m.data.toString())?.[1];
  assert.equal(m.mailOptions.envid, messageId);
  assert.match(m.data.toString(), /^Disposition-Notification-To: me@example\.org\r$/m);
  assert.ok(!/^bcc:/im.test(m.data.toString()), 'no Bcc header');
  const [copy] = await sent.list(SENT);
  assert.ok(copy);
  assert.deepEqual(copy.flags, ['\\Seen']);
  assert.ok(readFileSync(r.copy).equals(m.data), 'the Sent copy is byte for byte what the server got');
});
