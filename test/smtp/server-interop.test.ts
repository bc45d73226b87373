/** Real third-party clients against the server: nodemailer, Python's smtplib, curl, swaks. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import selfsigned from 'selfsigned';
import { tempDir } from '../support/tmp.js';
import { startServer } from './harness.js';

const run = promisify(execFile);
let tls: { key: string; cert: string };

before(async () => {
  const p = await selfsigned.generate([{ name: 'commonName', value: 'mx.example.org' }], { keySize: 2048 });
  tls = { key: p.private, cert: p.cert };
});

async function has(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

test('nodemailer: STARTTLS, AUTH PLAIN, 8BITMIME body stored byte for byte', async () => {
  const { port, backend } = await startServer({ tls, authAllowedPlain: false }, { passwords: { kim: 'pw' } });
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'kim', pass: 'pw' },
  });
  const raw = 'From: kim@example.org\r\nTo: u@example.org\r\nSubject: héllo\r\n\r\n.dot line\r\nbody é\r\n';
  const info = await transport.sendMail({
    envelope: { from: 'kim@example.org', to: ['u@example.org'] },
    raw,
  });
  transport.close();
  assert.match(info.response, /^250 2\.0\.0 OK m1/);
  const m = backend.messages[0]!;
  assert.equal(m.data.toString('utf8'), raw);
  assert.equal(m.conn.tls, true);
  assert.equal(m.conn.authUser, 'kim');
});

test("Python's smtplib: EHLO, MAIL with SIZE (added by smtplib), RCPT, DATA, QUIT", async (t) => {
  if (!(await has('python3'))) return t.skip('python3 not installed');
  const { port, backend } = await startServer();
  const script = `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', ${port}, local_hostname='py.example')
s.ehlo()
assert s.has_extn('size') and s.has_extn('pipelining') and s.has_extn('chunking')
s.sendmail('py@example.net', ['u@example.org'], b'Subject: from python\\r\\n\\r\\n.leading\\r\\nend\\r\\n')
s.quit()
`;
  await run('python3', ['-c', script], { timeout: 10_000 });
  const m = backend.messages[0]!;
  assert.equal(m.data.toString(), 'Subject: from python\r\n\r\n.leading\r\nend\r\n');
  // smtplib adds SIZE= itself when the server advertises SIZE.
  assert.equal(m.mailOptions.size, m.data.length);
  assert.equal(m.conn.helo, 'py.example');
});

test('curl smtp:// uploads a file', async (t) => {
  if (!(await has('curl'))) return t.skip('curl not installed');
  const { port, backend } = await startServer();
  const file = join(tempDir(), 'mail.txt');
  writeFileSync(file, 'Subject: via curl\r\n\r\nhello from curl\r\n');
  await run(
    'curl',
    [
      '-sS',
      '--mail-from',
      'c@example.net',
      '--mail-rcpt',
      'u@example.org',
      '-T',
      file,
      `smtp://127.0.0.1:${port}/curl.example`,
    ],
    { timeout: 10_000 },
  );
  assert.equal(backend.messages[0]!.data.toString(), 'Subject: via curl\r\n\r\nhello from curl\r\n');
});

test('swaks with PIPELINING and AUTH LOGIN', async (t) => {
  if (!(await has('swaks'))) return t.skip('swaks not installed');
  const { port, backend } = await startServer({}, { passwords: { kim: 'secret' } });
  const { stdout } = await run(
    'swaks',
    [
      '--server',
      `127.0.0.1:${port}`,
      '--from',
      'kim@example.org',
      '--to',
      'far@remote.example',
      '--auth',
      'LOGIN',
      '--auth-user',
      'kim',
      '--auth-password',
      'secret',
      '--pipeline',
      '--header',
      'Subject: swaks',
      '--body',
      'relay after auth',
    ],
    { timeout: 10_000 },
  );
  assert.match(stdout, /250 2\.0\.0 OK m1/);
  const m = backend.messages[0]!;
  assert.equal(m.rcpts[0]!.to, 'far@remote.example');
  assert.match(m.data.toString(), /\r\nSubject: swaks\r\n[\s\S]*\r\n\r\nrelay after auth\r\n/);
});
