/**
 * Real POP3 clients download from `posthorn serve`: curl (pop3:// and pop3s://), Python's poplib
 * and fetchmail. What each receives must be the stored bytes, which are the bytes sent by SMTP
 * after the trace headers.
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliOk, type ServerProcess, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';
import { transcript } from '../support/transcript.js';
import { popAll, runOk, withoutTrace } from './support.js';

const sent = [
  'From: sender@example.org',
  'To: kihyun@uu.ac.kr',
  'Subject: for the POP3 clients',
  'Message-ID: <pop3-clients@example.org>',
  '',
  'First line.',
  '.starts with a dot',
  '..two dots',
  '',
].join('\r\n');

describe('real POP3 clients', () => {
  let server: ServerProcess;
  const data = tempDir();
  const work = tempDir();
  let stored: Buffer;

  before(async () => {
    await cliOk(['domain', 'add', 'uu.ac.kr', '--data', data]);
    await cliOk(['user', 'add', 'kihyun@uu.ac.kr', '--password', 'kihyun0', '--data', data]);
    server = await startServe(
      data,
      ['--hostname', 'uu.ac.kr', '--pop3s', '127.0.0.1:0'],
      ['smtp', 'pop3', 'pop3s'],
    );
    const dotted = sent
      .split('\r\n')
      .map((l) => (l.startsWith('.') ? `.${l}` : l))
      .join('\r\n');
    await transcript(
      server.ports.smtp!,
      `S: 220 *\nC: HELO c\nS: 250 *\nC: MAIL FROM:<sender@example.org>\nS: 250 *\nC: RCPT TO:<kihyun@uu.ac.kr>\nS: 250 *\nC: DATA\nS: 354 *\nC~ ${dotted.replace(/\r\n/g, '\\r\\n')}.\\r\\n\nS: 250 *\nC: QUIT\nS: 221 *`,
    );
    [stored] = await popAll(server.ports.pop3!, 'kihyun@uu.ac.kr', 'kihyun0');
    assert.equal(withoutTrace(stored!).toString('latin1'), sent);
  });
  after(() => server?.stop());

  it('curl pop3:// and pop3s://', async () => {
    const plain = await runOk('curl', [
      '--silent',
      '--show-error',
      `pop3://127.0.0.1:${server.ports.pop3}/1`,
      '-u',
      'kihyun@uu.ac.kr:kihyun0',
    ]);
    assert.equal(plain.stdout.toString('latin1'), stored.toString('latin1'));
    const tls = await runOk('curl', [
      '--silent',
      '--show-error',
      '-k',
      `pop3s://127.0.0.1:${server.ports.pop3s}/1`,
      '-u',
      'kihyun:kihyun0',
    ]);
    assert.equal(tls.stdout.toString('latin1'), stored.toString('latin1'));
    const list = await runOk('curl', [
      '--silent',
      `pop3://127.0.0.1:${server.ports.pop3}/`,
      '-u',
      'kihyun:kihyun0',
    ]);
    assert.equal(list.stdout.toString(), `1 ${stored.length}\r\n`);
  });

  it("Python's poplib (with UIDL and TOP)", async () => {
    const script = `
import poplib, sys
p = poplib.POP3('127.0.0.1', ${server.ports.pop3})
p.user('kihyun'); p.pass_('kihyun0')
count, size = p.stat()
uid = p.uidl(1).split()[2]
top = p.top(1, 0)[1]
resp, lines, octets = p.retr(1)
p.quit()
sys.stdout.buffer.write(b'%d %d %s %d\\n' % (count, size, uid, len(top)))
sys.stdout.buffer.write(b'\\r\\n'.join(lines) + b'\\r\\n')
`;
    const r = await runOk('python3', ['-c', script]);
    const out = r.stdout;
    const nl = out.indexOf(0x0a);
    const [count, size, uid] = out.subarray(0, nl).toString().split(' ');
    assert.equal(count, '1');
    assert.equal(Number(size), stored.length);
    assert.match(uid!, /^[\x21-\x7e]{1,70}$/);
    assert.equal(out.subarray(nl + 1).toString('latin1'), stored.toString('latin1'));
  });

  it('fetchmail downloads into a file, keeping the message on the server', async () => {
    const out = join(work, 'fetched.mbox');
    const rc = join(work, 'fetchmailrc');
    writeFileSync(
      rc,
      `poll 127.0.0.1 protocol POP3 port ${server.ports.pop3} user "kihyun@uu.ac.kr" password "kihyun0" keep sslproto '' mda "/bin/sh -c 'cat > ${out}'"\n`,
    );
    chmodSync(rc, 0o600);
    await runOk('fetchmail', ['-f', rc, '--nosyslog', '-s', '--nosslcertck'], { timeoutMs: 30000 });
    const got = readFileSync(out).toString('latin1').replace(/\r?\n/g, '\r\n');
    // fetchmail inserts its own Received field after Return-Path; the rest is what Posthorn stored.
    const theirs = /Received: from 127\.0\.0\.1 \[127\.0\.0\.1\]\r\n(?:\t[^\r]*\r\n)*/;
    assert.match(got, theirs);
    assert.equal(got.replace(theirs, ''), stored.toString('latin1'));
    const again = await popAll(server.ports.pop3!, 'kihyun', 'kihyun0');
    assert.equal(again.length, 1, 'keep: still on the server');
  });
});
