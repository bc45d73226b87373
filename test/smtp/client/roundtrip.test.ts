/**
 * SmtpClient against Posthorn's own SMTP server (src/smtp/server over the in-memory test backend):
 * STARTTLS with certificate checks, implicit TLS, AUTH PLAIN/LOGIN, PIPELINING, BDAT and DATA,
 * per-recipient refusals, DSN parameters, and exact message bytes at the far end.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import selfsigned from 'selfsigned';
import { SmtpClient, type SmtpClientError, type SmtpClientOptions } from '../../../src/smtp/client/index.js';
import { SmtpServer, type SmtpServerOptions } from '../../../src/smtp/server/index.js';
import { MemorySmtpBackend } from '../../support/memory-smtp-backend.js';

let pems: { key: string; cert: string };

before(async () => {
  const p = await selfsigned.generate([{ name: 'commonName', value: 'mx.example.org' }], {
    keySize: 2048,
  });
  pems = { key: p.private, cert: p.cert };
});

async function start(opts: Partial<SmtpServerOptions> = {}) {
  const backend = new MemorySmtpBackend({
    localDomains: ['example.org'],
    passwords: { 'alice@example.org': 'pässword' },
  });
  const server = new SmtpServer({ hostname: 'mx.example.org', backend, ...opts });
  const { port } = await server.listen('127.0.0.1', 0);
  after(() => server.close(200));
  return { backend, port };
}

function open(port: number, extra: Partial<SmtpClientOptions> = {}) {
  return SmtpClient.connect({
    host: '127.0.0.1',
    port,
    localName: 'client.example.net',
    tls: 'none',
    ...extra,
  });
}

const trusted = () => ({ ca: pems.cert, servername: 'mx.example.org', rejectUnauthorized: true });

test('STARTTLS with a verified certificate, EHLO again, PIPELINING + BDAT; bytes arrive canonical', async () => {
  const { port, backend } = await start({ tls: pems });
  const c = await open(port, { tls: 'starttls-required', ...trusted() });
  assert.equal(c.secure, true);
  assert.equal(c.tlsAuthorized, true);
  assert.equal(c.capabilities.startTls, false, 'capabilities are the post-TLS list');
  assert.equal(c.capabilities.pipelining, true);
  assert.equal(c.capabilities.chunking, true);
  const body = 'From: x@example.net\nSubject: hi\n\n.dot line\nbare LF lines\r\nend';
  const r = await c.send(
    { from: 'x@example.net', recipients: ['bob@example.org', 'carol@example.org'] },
    body,
  );
  assert.equal(r.pipelined, true);
  assert.equal(r.chunked, true);
  assert.equal(r.ok, true, JSON.stringify(r.data));
  await c.quit();
  const m = backend.messages[0]!;
  assert.equal(
    m.data.toString(),
    'From: x@example.net\r\nSubject: hi\r\n\r\n.dot line\r\nbare LF lines\r\nend\r\n',
  );
  assert.deepEqual(
    m.rcpts.map((x) => x.to),
    ['bob@example.org', 'carol@example.org'],
  );
  assert.equal(m.conn.tls, true);
});

test('DATA path (chunking off): dot-stuffed on the wire, unstuffed by the server, bare LF → CRLF', async () => {
  const { port, backend } = await start();
  const c = await open(port, { chunking: false });
  const body = '.\n..\n.x\nline\r\n.\r\n';
  const r = await c.send(
    { from: 'x@example.net', recipients: ['bob@example.org'] },
    Readable.from([Buffer.from(body)]),
  );
  assert.equal(r.chunked, false);
  assert.equal(r.ok, true);
  assert.equal(backend.messages[0]!.data.toString(), '.\r\n..\r\n.x\r\nline\r\n.\r\n');
  await c.quit();
});

test('a 5 MiB message in several BDAT chunks and by DATA arrives byte for byte', async () => {
  const { port, backend } = await start();
  const line = 'The quick brown fox jumps over the lazy dog. 0123456789 ABCDEFGHIJKLMNOP\r\n';
  const body = Buffer.from(`Subject: big\r\n\r\n${line.repeat(Math.ceil((5 * 1024 * 1024) / line.length))}`);
  for (const chunking of [true, false]) {
    const c = await open(port, { chunking });
    const r = await c.send(
      { from: 'x@example.net', recipients: ['bob@example.org'], size: body.length },
      body,
    );
    assert.equal(r.ok, true);
    assert.equal(r.chunked, chunking);
    await c.quit();
  }
  assert.equal(backend.messages.length, 2);
  for (const m of backend.messages) assert.ok(m.data.equals(body));
});

test('certificate checks: opportunistic STARTTLS encrypts unverified; verifying modes refuse an untrusted one', async () => {
  const { port } = await start({ tls: pems });
  // Default for 'starttls' (RFC 7435): encrypt even when the certificate does not verify.
  const c = await open(port, { tls: 'starttls' });
  assert.equal(c.secure, true);
  assert.equal(c.tlsAuthorized, false);
  await c.quit();
  for (const opts of [
    { tls: 'starttls' as const, rejectUnauthorized: true, servername: 'mx.example.org' },
    { tls: 'starttls-required' as const, servername: 'mx.example.org' },
    // Trusted CA, but the certificate names mx.example.org, not this host.
    { tls: 'starttls-required' as const, ca: pems.cert, servername: 'other.example' },
  ]) {
    await assert.rejects(open(port, opts), (err: SmtpClientError) => {
      assert.equal(err.code, 'tls', err.message);
      assert.equal(err.stage, 'starttls');
      assert.equal(err.temporary, true);
      return true;
    });
  }
});

test('implicit TLS (RFC 8314)', async () => {
  const { port, backend } = await start({ tls: pems, implicitTls: true, listener: 'smtps' });
  await assert.rejects(
    open(port, { tls: 'implicit', servername: 'mx.example.org' }),
    (err: SmtpClientError) => {
      assert.deepEqual([err.code, err.stage, err.temporary], ['tls', 'connect', true]);
      return true;
    },
  );
  const c = await open(port, { tls: 'implicit', ...trusted() });
  assert.equal(c.secure, true);
  assert.equal(c.tlsAuthorized, true);
  assert.equal((await c.send({ from: 'x@example.net', recipients: ['bob@example.org'] }, 'x\r\n')).ok, true);
  await c.quit();
  assert.equal(backend.messages.length, 1);
});

test('AUTH PLAIN and LOGIN over STARTTLS; a wrong password is a permanent auth error (535)', async () => {
  const { port, backend } = await start({
    tls: pems,
    requireAuth: true,
    authAllowedPlain: false,
    listener: 'submission',
  });
  for (const mechanism of ['PLAIN', 'LOGIN'] as const) {
    const c = await open(port, { tls: 'starttls-required', ...trusted() });
    assert.deepEqual(c.capabilities.auth.sort(), ['LOGIN', 'PLAIN']);
    await assert.rejects(
      c.auth({ username: 'alice@example.org', password: 'wrong', mechanism }),
      (err: SmtpClientError) => {
        assert.equal(err.code, 'auth');
        assert.equal(err.permanent, true);
        assert.equal(err.reply?.code, 535);
        return true;
      },
    );
    await c.auth({ username: 'alice@example.org', password: 'pässword', mechanism });
    // Authenticated: relaying to another domain is allowed.
    const r = await c.send(
      { from: 'alice@example.org', recipients: ['friend@example.net'] },
      'Subject: a\r\n\r\nb\r\n',
    );
    assert.equal(r.ok, true, JSON.stringify(r));
    await c.quit();
  }
  assert.equal(backend.messages.length, 2);
  assert.equal(backend.messages[0]!.conn.authUser, 'alice@example.org');
});

test('AUTH in clear text is allowed to a loopback server (the textbook demo)', async () => {
  const { port } = await start({ authAllowedPlain: true });
  const c = await open(port);
  // 127.0.0.1 is loopback, so the client lets the password go in clear (the textbook demo).
  await c.auth({ username: 'alice@example.org', password: 'pässword' });
  assert.equal(c.authenticated, 'alice@example.org');
  await c.quit();
});

test('per-recipient results: unknown user 550, relay refused 554, the rest delivered', async () => {
  const { port, backend } = await start();
  const c = await open(port);
  const r = await c.send(
    {
      from: 'x@example.net',
      recipients: ['bob@example.org', 'nobody@elsewhere.example', 'carol@example.org'],
    },
    'Subject: s\r\n\r\nb\r\n',
  );
  assert.equal(r.ok, true);
  assert.deepEqual(
    r.recipients.map((x) => [x.address, x.code, x.enhanced, x.accepted]),
    [
      ['bob@example.org', 250, '2.1.5', true],
      ['nobody@elsewhere.example', 554, '5.7.1', false],
      ['carol@example.org', 250, '2.1.5', true],
    ],
  );
  assert.deepEqual(r.delivered, ['bob@example.org', 'carol@example.org']);
  assert.deepEqual(
    backend.messages[0]!.rcpts.map((x) => x.to),
    ['bob@example.org', 'carol@example.org'],
  );
  await c.quit();
});

test('MAIL refused by the backend: permanent error with its reply; the session goes on', async () => {
  const { port, backend } = await start();
  const c = await open(port);
  await assert.rejects(
    c.send({ from: 'blocked@example.net', recipients: ['bob@example.org'] }, 'x\r\n'),
    (err: SmtpClientError) => {
      assert.deepEqual(
        [err.stage, err.reply?.code, err.reply?.enhanced, err.permanent],
        ['mail', 550, '5.7.1', true],
      );
      return true;
    },
  );
  assert.equal((await c.send({ from: 'ok@example.net', recipients: ['bob@example.org'] }, 'x\r\n')).ok, true);
  await c.noop();
  await c.rset();
  await c.quit();
  assert.equal(backend.messages.length, 1);
});

test('SMTPUTF8, 8BITMIME and DSN parameters reach the backend as sent', async () => {
  const { port, backend } = await start();
  const c = await open(port);
  assert.equal(c.capabilities.dsn, true);
  const body = Buffer.from('Subject: 안녕\r\n\r\n본문\r\n', 'utf8');
  const r = await c.send(
    {
      from: '김@example.net',
      recipients: [
        { address: 'bob@example.org', notify: ['FAILURE', 'DELAY'], orcpt: 'bob+old@example.org' },
      ],
      body8bit: true,
      ret: 'HDRS',
      envid: 'QID 42',
      size: body.length,
    },
    body,
  );
  assert.equal(r.ok, true, JSON.stringify(r));
  const m = backend.messages[0]!;
  assert.ok(m.data.equals(body));
  assert.equal(m.from, '김@example.net');
  assert.equal(m.mailOptions.smtputf8, true);
  assert.equal(m.mailOptions.body, '8BITMIME');
  assert.equal(m.mailOptions.ret, 'HDRS');
  assert.equal(m.mailOptions.envid, 'QID 42');
  assert.equal(m.mailOptions.size, body.length);
  assert.deepEqual(m.rcpts[0]!.opts.notify, ['FAILURE', 'DELAY']);
  assert.deepEqual(m.rcpts[0]!.opts.orcpt, { type: 'rfc822', address: 'bob+old@example.org' });
  await c.quit();
});

test('SIZE: the server limit is learnt from EHLO and a larger message is refused locally', async () => {
  const { port, backend } = await start({ limits: { maxMessageSize: 1024 } });
  const c = await open(port);
  assert.equal(c.capabilities.size, 1024);
  await assert.rejects(
    c.send({ from: 'x@example.net', recipients: ['bob@example.org'], size: 4096 }, Buffer.alloc(4096, 0x61)),
    (err: SmtpClientError) => err.code === 'size' && err.limit === 1024,
  );
  await c.quit();
  assert.equal(backend.messages.length, 0);
});
