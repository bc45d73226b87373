/**
 * Real SMTP clients deliver to `posthorn serve`: curl, swaks, Python's smtplib and nodemailer.
 * Each message's stored bytes must be exactly what the client sent, after the trace headers.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { cliOk, type ServerProcess, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';
import { popAll, runOk, withoutTrace } from './support.js';

function message(client: string): string {
  return [
    'From: Sender <sender@example.org>',
    'To: Kihyun <kihyun@uu.ac.kr>',
    `Subject: =?UTF-8?B?${Buffer.from(`안녕하세요 from ${client}`).toString('base64')}?=`,
    'Date: Thu, 26 Nov 2026 10:00:00 +0900',
    `Message-ID: <${client}.1@example.org>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Sent by ${client}.`,
    '.A line starting with a dot.',
    '한국어 본문입니다.',
    '',
  ].join('\r\n');
}

describe('real SMTP clients', () => {
  let server: ServerProcess;
  const data = tempDir();
  const files = tempDir();

  before(async () => {
    await cliOk(['domain', 'add', 'uu.ac.kr', '--data', data]);
    await cliOk(['user', 'add', 'kihyun@uu.ac.kr', '--password', 'kihyun0', '--data', data]);
    server = await startServe(data, ['--hostname', 'uu.ac.kr']);
  });
  after(() => server?.stop());

  async function storedFor(client: string): Promise<Buffer> {
    const all = await popAll(server.ports.pop3!, 'kihyun@uu.ac.kr', 'kihyun0');
    const mine = all.find((m) => m.includes(`<${client}.1@example.org>`));
    assert.ok(mine, `message from ${client} stored`);
    return withoutTrace(mine);
  }

  it('curl (smtp://)', async () => {
    const f = join(files, 'curl.eml');
    writeFileSync(f, message('curl'));
    await runOk('curl', [
      '--silent',
      '--show-error',
      '--url',
      `smtp://127.0.0.1:${server.ports.smtp}`,
      '--mail-from',
      'sender@example.org',
      '--mail-rcpt',
      'kihyun@uu.ac.kr',
      '--upload-file',
      f,
    ]);
    assert.equal((await storedFor('curl')).toString('utf8'), message('curl'));
  });

  it('swaks', async () => {
    const f = join(files, 'swaks.eml');
    // swaks always sends CRLF before the final dot itself, so the file goes without the last one.
    writeFileSync(f, message('swaks').replace(/\r\n$/, ''));
    await runOk('swaks', [
      '--server',
      `127.0.0.1:${server.ports.smtp}`,
      '--from',
      'sender@example.org',
      '--to',
      'kihyun@uu.ac.kr',
      '--data',
      f,
      '--silent',
      '2',
    ]);
    assert.equal((await storedFor('swaks')).toString('utf8'), message('swaks'));
  });

  it("Python's smtplib", async () => {
    const script = `
import smtplib, sys
msg = sys.stdin.buffer.read()
with smtplib.SMTP('127.0.0.1', ${server.ports.smtp}) as s:
    s.ehlo('python.example')
    s.sendmail('sender@example.org', ['kihyun@uu.ac.kr'], msg)
`;
    await runOk('python3', ['-c', script], { input: Buffer.from(message('smtplib')) });
    assert.equal((await storedFor('smtplib')).toString('utf8'), message('smtplib'));
  });

  it('nodemailer', async () => {
    const t = nodemailer.createTransport({
      host: '127.0.0.1',
      port: server.ports.smtp,
      secure: false,
      tls: { rejectUnauthorized: false },
    });
    const info = await t.sendMail({
      envelope: { from: 'sender@example.org', to: ['kihyun@uu.ac.kr'] },
      raw: message('nodemailer'),
    });
    assert.deepEqual(info.accepted, ['kihyun@uu.ac.kr']);
    assert.equal((await storedFor('nodemailer')).toString('utf8'), message('nodemailer'));
  });
});
