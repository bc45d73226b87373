/** Pop3Client against Pop3Server over real TCP, plain, STLS and implicit TLS; large messages stream. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { before, test } from 'node:test';
import { generate } from 'selfsigned';
import { Pop3Client, Pop3ClientError } from '../../src/pop3/index.js';
import { KIHYUN, SECOND_MESSAGE, startServer, TEXTBOOK_MESSAGE, waitUnlocked } from './setup.js';

let tls: { key: string; cert: string };
before(async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
  tls = { key: pems.private, cert: pems.cert };
});

/** A CRLF message of about `size` octets; a third of its lines start with '.'. */
function bigMessage(size: number): Buffer {
  const block: Buffer[] = [];
  for (let i = 0; i < 300; i++) {
    block.push(Buffer.from(i % 3 === 0 ? `.line ${i}\r\n` : `${randomBytes(30).toString('base64')}\r\n`));
  }
  const unit = Buffer.concat(block);
  const head = Buffer.from('From: big@example.org\r\nSubject: big\r\n\r\n');
  return Buffer.concat([head, ...Array<Buffer>(Math.ceil(size / unit.length)).fill(unit)]);
}

test('client round trip: login, stat, list, uidl, retr, top, dele, rset, noop, quit', async () => {
  const { port, backend } = await startServer();
  const uids = backend.messages(KIHYUN).map((m) => m.uid);
  const c = await Pop3Client.connect({ host: '127.0.0.1', port });
  assert.equal(c.greeting, 'Posthorn POP3 server ready');
  assert.ok((await c.capa()).includes('PIPELINING'));
  await c.login('kihyun', 'kihyun0');
  assert.deepEqual(await c.stat(), { count: 2, size: 151 });
  assert.deepEqual(await c.list(), [
    { n: 1, size: 103 },
    { n: 2, size: 48 },
  ]);
  assert.deepEqual(await c.listOne(2), { n: 2, size: 48 });
  assert.deepEqual(await c.uidl(), [
    { n: 1, uid: uids[0] },
    { n: 2, uid: uids[1] },
  ]);
  assert.deepEqual(await c.uidlOne(1), { n: 1, uid: uids[0] });
  assert.equal((await c.retrBuffer(1)).toString(), TEXTBOOK_MESSAGE);
  const top: Buffer[] = [];
  for await (const b of await c.top(2, 0)) top.push(b);
  assert.equal(Buffer.concat(top).toString(), 'From: bob@example.org\r\nSubject: Two\r\n\r\n');
  await c.dele(1);
  await assert.rejects(
    c.retrBuffer(1),
    (e: Pop3ClientError) => e instanceof Pop3ClientError && /deleted/.test(e.message),
  );
  await c.rset();
  await c.noop();
  await c.dele(2);
  await c.quit();
  await waitUnlocked(backend);
  assert.deepEqual(
    backend.messages(KIHYUN).map((m) => m.bytes.toString()),
    [TEXTBOOK_MESSAGE],
  );
});

test('client errors carry RFC 2449 codes: [AUTH], [IN-USE]', async () => {
  const { port } = await startServer();
  const a = await Pop3Client.connect({ host: '127.0.0.1', port });
  await assert.rejects(a.login('kihyun', 'bad'), (e: Pop3ClientError) => e.code === 'AUTH');
  await a.authPlain('kihyun', 'kihyun0');
  const b = await Pop3Client.connect({ host: '127.0.0.1', port });
  await assert.rejects(
    b.authPlain('kihyun@uu.ac.kr', 'kihyun0'),
    (e: Pop3ClientError) => e.code === 'IN-USE',
  );
  await a.quit();
  await b.quit();
});

test('a 5 MiB message streams through RETR byte-exact, with dot lines, at odd chunk sizes', async () => {
  const { port, backend } = await startServer();
  backend.chunkSize = 65_537;
  const big = bigMessage(5 * 1024 * 1024);
  backend.deliver(KIHYUN, big);
  const c = await Pop3Client.connect({ host: '127.0.0.1', port });
  await c.login('kihyun', 'kihyun0');
  assert.deepEqual(await c.listOne(3), { n: 3, size: big.length });
  const hash = createHash('sha256');
  let maxChunk = 0;
  const sink = new Writable({
    highWaterMark: 16384,
    write(chunk: Buffer, _enc, cb) {
      maxChunk = Math.max(maxChunk, chunk.length);
      hash.update(chunk);
      setImmediate(cb);
    },
  });
  const octets = await c.retrTo(3, sink);
  assert.equal(octets, big.length);
  assert.equal(hash.digest('hex'), createHash('sha256').update(big).digest('hex'));
  assert.ok(maxChunk < big.length / 4, 'arrived in pieces, not as one buffer');
  // The connection is still in sync after the big body.
  assert.equal((await c.retrBuffer(2)).toString(), SECOND_MESSAGE);
  await c.quit();
});

test('a client that stops reading holds the server back (backpressure), then gets every byte', async () => {
  const { port, backend } = await startServer();
  // Large enough to overflow the kernel's loopback socket buffers (autotuned to several MiB).
  const size = 48 * 1024 * 1024;
  const big = bigMessage(size);
  backend.deliver(KIHYUN, big);
  const s = connect({ port, host: '127.0.0.1' });
  const parts: Buffer[] = [];
  let received = 0;
  s.on('data', (d) => {
    parts.push(d);
    received += d.length;
  });
  await new Promise((r) => s.once('connect', r));
  s.write('USER kihyun\r\nPASS kihyun0\r\nRETR 3\r\nQUIT\r\n');
  while (received < 1000) await new Promise((r) => setTimeout(r, 5));
  s.pause();
  await new Promise((r) => setTimeout(r, 300));
  const stalled = backend.bytesRead;
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(stalled < size / 2, `server read ${stalled} of ${size} while the client was paused`);
  assert.ok(backend.bytesRead - stalled < 2 * 1024 * 1024, 'and stopped reading the message');
  s.resume();
  await new Promise((r) => s.once('close', r));
  const all = Buffer.concat(parts.slice(-3)).toString('latin1');
  assert.ok(all.endsWith('\r\n.\r\n+OK Posthorn POP3 server signing off (3 messages left)\r\n'));
  assert.equal(backend.bytesRead, big.length);
});

test('client over STLS and over implicit TLS', async () => {
  const plain = await startServer({ tls, isTrustedClient: () => false });
  const c = await Pop3Client.connect({
    host: '127.0.0.1',
    port: plain.port,
    tls: 'starttls',
    tlsOptions: { rejectUnauthorized: false },
  });
  assert.ok(c.tls);
  await c.login('kihyun', 'kihyun0');
  assert.equal((await c.retrBuffer(1)).toString(), TEXTBOOK_MESSAGE);
  await c.quit();

  const implicit = await startServer({ tls, implicitTls: true });
  const d = await Pop3Client.connect({
    host: '127.0.0.1',
    port: implicit.port,
    tls: 'implicit',
    tlsOptions: { rejectUnauthorized: false },
  });
  assert.ok(d.tls);
  await d.authPlain('kihyun', 'kihyun0');
  assert.deepEqual(await d.stat(), { count: 2, size: 151 });
  await d.quit();
});

test('an abandoned body is drained so the next command stays in sync', async () => {
  const { port } = await startServer();
  const c = await Pop3Client.connect({ host: '127.0.0.1', port });
  await c.login('kihyun', 'kihyun0');
  for await (const _ of await c.retr(1)) break;
  assert.deepEqual(await c.stat(), { count: 2, size: 151 });
  await c.quit();
});
