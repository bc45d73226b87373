/**
 * Interop: SmtpClient against an independent server, Python 3's stdlib smtpd, run as a child
 * process on an ephemeral loopback port. smtpd hands each message over dot-unstuffed with its
 * lines joined by LF, so the expected bodies below are the canonical message with CRLF → LF.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SmtpClient, type SmtpClientError } from '../../../src/smtp/client/index.js';

const PEER = fileURLToPath(new URL('./smtpd-peer.py', import.meta.url));
const hasSmtpd =
  spawnSync('python3', ['-W', 'ignore', '-c', 'import smtpd'], { stdio: 'ignore' }).status === 0;

interface Received {
  from: string;
  to: string[];
  data: string;
  mail_options: string[];
  rcpt_options: string[];
}

async function startPeer(sizeLimit?: number): Promise<{ port: number; next: () => Promise<Received> }> {
  const child: ChildProcess = spawn('python3', [PEER, ...(sizeLimit ? [String(sizeLimit)] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  after(() => child.kill());
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const read = async () => {
    const r = await lines.next();
    if (r.done) throw new Error('smtpd peer exited');
    return JSON.parse(r.value);
  };
  const { port } = (await read()) as { port: number };
  return { port, next: read as () => Promise<Received> };
}

const decode = (r: Received) => Buffer.from(r.data, 'base64');

test('smtpd: EHLO, capabilities, a 2-recipient transaction with dot-stuffing and bare LFs', {
  skip: !hasSmtpd,
}, async () => {
  const peer = await startPeer();
  const c = await SmtpClient.connect({
    host: '127.0.0.1',
    port: peer.port,
    tls: 'starttls',
    localName: 'client.test',
  });
  assert.equal(c.capabilities.esmtp, true);
  assert.equal(c.capabilities.eightBitMime, true);
  assert.equal(c.capabilities.smtpUtf8, true);
  assert.equal(c.capabilities.size, 33554432);
  assert.equal(c.secure, false, 'smtpd offers no STARTTLS; opportunistic mode goes on in plain text');
  const body = 'From: a@example.org\nSubject: dots\n\n.one leading dot\r\n..two\n.\nend';
  const r = await c.send(
    { from: 'a@example.org', recipients: ['b@example.net', 'c@example.net'], size: body.length },
    Readable.from([Buffer.from(body.slice(0, 20)), Buffer.from(body.slice(20))]),
  );
  assert.equal(r.ok, true);
  assert.deepEqual(r.delivered, ['b@example.net', 'c@example.net']);
  const got = await peer.next();
  assert.equal(got.from, 'a@example.org');
  assert.deepEqual(got.to, ['b@example.net', 'c@example.net']);
  assert.deepEqual(got.mail_options, [`SIZE=${body.length}`]);
  assert.equal(
    decode(got).toString(),
    'From: a@example.org\nSubject: dots\n\n.one leading dot\n..two\n.\nend',
  );
  // A second transaction on the same connection.
  const r2 = await c.send(
    { from: '', recipients: ['d@example.net'] },
    Buffer.from('Subject: 2\r\n\r\nx\r\n'),
  );
  assert.equal(r2.ok, true);
  const got2 = await peer.next();
  assert.equal(got2.from, '<>'); // smtpd's spelling of the null reverse-path
  assert.equal(decode(got2).toString(), 'Subject: 2\n\nx');
  assert.equal((await c.quit())?.code, 221);
});

test('smtpd: 8BITMIME and SMTPUTF8 with a Korean body and addresses; octets arrive untouched', {
  skip: !hasSmtpd,
}, async () => {
  const peer = await startPeer();
  const c = await SmtpClient.connect({
    host: '127.0.0.1',
    port: peer.port,
    tls: 'none',
    localName: 'client.test',
  });
  const body = Buffer.from('Subject: 안녕하세요\r\n\r\n한국어 본문입니다.\r\n', 'utf8');
  const r = await c.send(
    { from: '김철수@example.org', recipients: ['영희@example.net'], body8bit: true },
    body,
  );
  assert.equal(r.ok, true);
  const got = await peer.next();
  // SIZE comes from the in-memory body's length.
  assert.deepEqual(got.mail_options.sort(), ['BODY=8BITMIME', `SIZE=${body.length}`, 'SMTPUTF8']);
  assert.equal(got.from, '김철수@example.org');
  assert.deepEqual(decode(got), Buffer.from('Subject: 안녕하세요\n\n한국어 본문입니다.', 'utf8'));
  await c.quit();
});

test('smtpd: SIZE limit below the message size is refused before MAIL', { skip: !hasSmtpd }, async () => {
  const peer = await startPeer(1000);
  const c = await SmtpClient.connect({
    host: '127.0.0.1',
    port: peer.port,
    tls: 'none',
    localName: 'client.test',
  });
  assert.equal(c.capabilities.size, 1000);
  await assert.rejects(
    c.send({ from: 'a@example.org', recipients: ['b@example.net'], size: 5000 }, Buffer.alloc(5000, 0x61)),
    (err: SmtpClientError) => err.code === 'size' && err.limit === 1000 && err.permanent,
  );
  // The connection is untouched: a small message still goes through.
  assert.equal(
    (await c.send({ from: 'a@example.org', recipients: ['b@example.net'], size: 3 }, 'ok\r\n')).ok,
    true,
  );
  assert.equal(decode(await peer.next()).toString(), 'ok');
  await c.quit();
});

test('smtpd: a final 554 is reported as the transaction reply', { skip: !hasSmtpd }, async () => {
  const peer = await startPeer();
  const c = await SmtpClient.connect({
    host: '127.0.0.1',
    port: peer.port,
    tls: 'none',
    localName: 'client.test',
  });
  const r = await c.send({ from: 'a@example.org', recipients: ['reject@example.net'] }, 'x\r\n');
  assert.equal(r.ok, false);
  assert.equal(r.data?.code, 554);
  assert.equal(r.data?.enhanced, '5.6.0');
  await peer.next();
  await c.quit();
});
