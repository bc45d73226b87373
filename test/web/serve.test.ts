/**
 * The web listener in the real program: `posthorn serve --web 127.0.0.1:0` logs its port, logs in
 * a user created with the CLI, shows mail that arrived over SMTP, and sends through the same
 * submission path to another local user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliOk, type ServerProcess, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';
import { Client, deliverSmtp } from './support.js';

describe('posthorn serve --web', () => {
  let srv: ServerProcess;
  let base: string;
  const data = tempDir();

  before(async () => {
    await cliOk(['domain', 'add', 'uu.ac.kr', '--data', data]);
    await cliOk(['user', 'add', 'kihyun@uu.ac.kr', '--password', 'kihyun0', '--data', data]);
    await cliOk(['user', 'add', 'mina@uu.ac.kr', '--password', 'mina0000', '--data', data]);
    srv = await startServe(data, ['--web', '127.0.0.1:0'], ['smtp', 'web']);
    base = `http://127.0.0.1:${srv.ports.web}`;
  });
  after(() => srv?.stop());

  it('reads mail delivered over SMTP and sends to another local user', async () => {
    await deliverSmtp(
      srv.ports.smtp!,
      'lee@example.org',
      ['kihyun@uu.ac.kr'],
      'From: lee@example.org\r\nTo: kihyun@uu.ac.kr\r\nSubject: =?UTF-8?B?7JWI64WV?=\r\n\r\nhello\r\n',
    );
    const k = new Client(base);
    assert.equal((await k.login('kihyun', 'kihyun0')).status, 200, 'a bare local part logs in too');
    const list = await k.req('GET', '/api/mailboxes/INBOX/messages');
    assert.equal(list.json.total, 1);
    assert.equal(list.json.messages[0].subject, '안녕');
    const sent = await k.req('POST', '/api/send', {
      to: 'mina@uu.ac.kr',
      subject: 'from the web',
      text: 'hi',
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.json));
    const m = new Client(base);
    assert.equal((await m.login('mina@uu.ac.kr', 'mina0000')).status, 200);
    const inbox = await m.req('GET', '/api/mailboxes/INBOX/messages');
    assert.equal(inbox.json.messages[0].subject, 'from the web');
    const raw = await m.req('GET', `/api/messages/${inbox.json.messages[0].id}/raw`);
    assert.match(raw.body.toString(), /^Received: from mx\.test/m, 'trace header of the submission path');
  });
});
