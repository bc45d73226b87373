/**
 * SmtpClient session handling against scripted servers over real TCP: greeting, EHLO/HELO,
 * capabilities, STARTTLS policy, AUTH, RSET/NOOP/QUIT, timeouts (RFC 5321 §4.5.3.2) and refusals
 * of values that would inject commands.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { open, rejects, SHORT } from './client-setup.js';
import { fakeServer } from './fake-server.js';

const EHLO_FULL = `
  S: 220 mx.test ESMTP
  C: EHLO client.test
  S: 250-mx.test hello
  S: 250-SIZE 35882577
  S: 250-8BITMIME
  S: 250-SMTPUTF8
  S: 250-PIPELINING
  S: 250-AUTH PLAIN LOGIN CRAM-MD5
  S: 250-AUTH=LOGIN XOAUTH2
  S: 250-CHUNKING
  S: 250-DSN
  S: 250-ENHANCEDSTATUSCODES
  S: 250 X-UNKNOWN a b`;

test('EHLO: a multi-line capability list is parsed into typed fields', async () => {
  const fake = await fakeServer(`${EHLO_FULL}
    C: NOOP
    S: 250 2.0.0 OK
    C: RSET
    S: 250 2.0.0 Flushed
    C: QUIT
    S: 221 2.0.0 Bye`);
  const c = await open(fake.port);
  assert.equal(c.greeting.code, 220);
  const caps = c.capabilities;
  assert.equal(caps.esmtp, true);
  assert.equal(caps.size, 35882577);
  assert.deepEqual(
    [
      caps.eightBitMime,
      caps.smtpUtf8,
      caps.pipelining,
      caps.chunking,
      caps.dsn,
      caps.enhancedStatusCodes,
      caps.startTls,
    ],
    [true, true, true, true, true, true, false],
  );
  assert.deepEqual(caps.auth.sort(), ['CRAM-MD5', 'LOGIN', 'PLAIN', 'XOAUTH2']);
  assert.deepEqual(caps.raw.get('X-UNKNOWN'), ['a', 'b']);
  assert.deepEqual(await c.noop(), { code: 250, enhanced: '2.0.0', text: 'OK' });
  assert.equal((await c.rset()).code, 250);
  assert.equal((await c.quit())?.code, 221);
  assert.equal(c.usable, false);
  const [conv] = await fake.settled();
  assert.deepEqual(conv!.errors, []);
});

test('EHLO answered 500 or 502: falls back to HELO, no extensions', async () => {
  for (const code of [500, 502]) {
    const fake = await fakeServer(`
      S: 220 old.test SMTP
      C: EHLO client.test
      S: ${code} 5.5.1 Command unrecognized
      C: HELO client.test
      S: 250 old.test
      C: QUIT
      S: 221 bye`);
    const c = await open(fake.port);
    assert.equal(c.capabilities.esmtp, false);
    assert.equal(c.capabilities.pipelining, false);
    await c.quit();
    assert.deepEqual((await fake.settled())[0]!.errors, []);
  }
});

test('EHLO refused with another code is an error, not a HELO', async () => {
  const fake = await fakeServer(`
    S: 220 mx.test
    C: EHLO client.test
    S: 421 4.3.2 Shutting down
    S: <close>`);
  const err = await rejects(open(fake.port));
  assert.equal(err.stage, 'ehlo');
  assert.equal(err.temporary, true);
  assert.equal(err.reply?.code, 421);
});

test('greeting 554: permanent error with the reply kept; the client still says QUIT', async () => {
  const fake = await fakeServer(`
    S: 554-5.7.1 No SMTP service here
    S: 554 5.7.1 Go away
    C: QUIT
    S: 221 bye`);
  const err = await rejects(open(fake.port));
  assert.equal(err.code, 'reply');
  assert.equal(err.stage, 'greeting');
  assert.equal(err.permanent, true);
  assert.deepEqual(err.reply, { code: 554, enhanced: '5.7.1', text: ['No SMTP service here', 'Go away'] });
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('greeting 421: temporary', async () => {
  const fake = await fakeServer(`
    S: 421 4.7.0 Too many connections
    S: <close>`);
  const err = await rejects(open(fake.port));
  assert.equal(err.temporary, true);
  assert.equal(err.reply?.code, 421);
});

test('connection refused: network error, temporary', async () => {
  const fake = await fakeServer('S: <close>');
  const port = fake.port;
  await new Promise<void>((r) => fake.server.close(() => r()));
  const err = await rejects(open(port));
  assert.equal(err.code, 'network');
  assert.equal(err.stage, 'connect');
  assert.equal(err.temporary, true);
});

test('timeouts (§4.5.3.2): silent greeting, silent EHLO', async () => {
  const fake = await fakeServer(['S: <silence>', 'S: 220 mx.test\nC: EHLO client.test\nS: <silence>']);
  const t0 = Date.now();
  const e1 = await rejects(open(fake.port, { timeouts: { ...SHORT, initial: 150 } }));
  assert.equal(e1.code, 'timeout');
  assert.equal(e1.stage, 'greeting');
  assert.equal(e1.temporary, true);
  const e2 = await rejects(open(fake.port, { timeouts: { ...SHORT, command: 150 } }));
  assert.equal(e2.code, 'timeout');
  assert.equal(e2.stage, 'ehlo');
  assert.ok(Date.now() - t0 < 1500);
});

test('a malformed reply is a protocol error', async () => {
  const fake = await fakeServer('S: 220 mx.test\nC: EHLO client.test\nS: hello there\nS: <silence>');
  const err = await rejects(open(fake.port));
  assert.equal(err.code, 'protocol');
});

test('STARTTLS required but not offered: tls error after QUIT; opportunistic goes on in plain text', async () => {
  const script = `
    S: 220 mx.test
    C: EHLO client.test
    S: 250-mx.test
    S: 250 8BITMIME
    C: QUIT
    S: 221 bye`;
  const fake = await fakeServer(script);
  const err = await rejects(open(fake.port, { tls: 'starttls-required' }));
  assert.equal(err.code, 'tls');
  assert.equal(err.temporary, true);
  const c = await open(fake.port, { tls: 'starttls' });
  assert.equal(c.secure, false);
  await c.quit();
  const convs = await fake.settled(2);
  assert.deepEqual(
    convs.flatMap((c) => c.errors),
    [],
  );
});

test('STARTTLS refused (454): opportunistic continues, required fails', async () => {
  const script = `
    S: 220 mx.test
    C: EHLO client.test
    S: 250-mx.test
    S: 250 STARTTLS
    C: STARTTLS
    S: 454 4.7.0 TLS not available
    C: QUIT
    S: 221 bye`;
  const fake = await fakeServer(script);
  const c = await open(fake.port, { tls: 'starttls' });
  assert.equal(c.secure, false);
  await c.quit();
  const err = await rejects(open(fake.port, { tls: 'starttls-required' }));
  assert.equal(err.code, 'tls');
  assert.equal(err.reply?.code, 454);
  assert.deepEqual(
    (await fake.settled(2)).flatMap((c) => c.errors),
    [],
  );
});

test('STARTTLS response injection: data after the 220 is refused, never read as post-TLS replies', async () => {
  const fake = await fakeServer(`
    S: 220 mx.test
    C: EHLO client.test
    S: 250-mx.test
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 2.0.0 Go ahead
    S: 250-injected
    S: 250 AUTH PLAIN
    S: <silence>`);
  const err = await rejects(open(fake.port, { tls: 'starttls' }));
  assert.equal(err.code, 'protocol');
  assert.equal(err.stage, 'starttls');
});

test('CR, LF or NUL in the EHLO name: refused before connecting', async () => {
  const fake = await fakeServer('S: 220 mx.test\nC: QUIT\nS: 221 bye');
  for (const localName of [
    'client.test\r\nMAIL FROM:<x@y.test>',
    'client.test\nRSET',
    'client\0.test',
    'not a name',
  ]) {
    const err = await rejects(open(fake.port, { localName }));
    assert.equal(err.code, 'invalid');
    assert.equal(err.permanent, true);
  }
  assert.equal(fake.conversations.length, 0);
});

test('address-literal EHLO names are accepted', async () => {
  const fake = await fakeServer('S: 220 mx.test\nC: EHLO [127.0.0.1]\nS: 250 mx.test\nC: QUIT\nS: 221 bye');
  const c = await open(fake.port, { localName: '[127.0.0.1]' });
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

const AUTH_EHLO = `
  S: 220 mx.test
  C: EHLO client.test
  S: 250-mx.test
  S: 250 AUTH LOGIN PLAIN`;
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

test('AUTH PLAIN with an initial response (RFC 4954, RFC 4616)', async () => {
  const fake = await fakeServer(`${AUTH_EHLO}
    C: AUTH PLAIN ${b64('\0alice@example.org\0pässword')}
    S: 235 2.7.0 Authentication successful
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  await c.auth({ username: 'alice@example.org', password: 'pässword' });
  assert.equal(c.authenticated, 'alice@example.org');
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('AUTH LOGIN: user name and password answer the two 334 prompts', async () => {
  const fake = await fakeServer(`${AUTH_EHLO}
    C: AUTH LOGIN
    S: 334 VXNlcm5hbWU6
    C: ${b64('bob')}
    S: 334 UGFzc3dvcmQ6
    C: ${b64('secret')}
    S: 235 2.7.0 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  await c.auth({ username: 'bob', password: 'secret', mechanism: 'LOGIN' });
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('AUTH refused with 535: a permanent auth error carrying the reply; 454 is temporary', async () => {
  const fake = await fakeServer(`${AUTH_EHLO}
    C: AUTH PLAIN *
    S: 535 5.7.8 Authentication credentials invalid
    C: AUTH LOGIN
    S: 454 4.7.0 Temporary authentication failure
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const e1 = await rejects(c.auth({ username: 'bob', password: 'wrong' }));
  assert.equal(e1.code, 'auth');
  assert.equal(e1.permanent, true);
  assert.equal(e1.reply?.enhanced, '5.7.8');
  assert.match(e1.message, /credentials rejected/);
  const e2 = await rejects(c.auth({ username: 'bob', password: 'x', mechanism: 'LOGIN' }));
  assert.equal(e2.temporary, true);
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('AUTH: CR/LF/NUL in credentials and unknown mechanisms are refused before sending', async () => {
  const fake = await fakeServer(`${AUTH_EHLO}
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  for (const [username, password] of [
    ['bob\r\nRSET', 'x'],
    ['bob', 'pw\nQUIT'],
    ['bo\0b', 'x'],
  ] as const) {
    assert.equal((await rejects(c.auth({ username, password }))).code, 'invalid');
  }
  // The server does not offer CRAM-MD5-only paths; an unoffered mechanism is a clear auth error.
  const fake2 = await fakeServer(`
    S: 220 mx.test
    C: EHLO client.test
    S: 250-mx.test
    S: 250 AUTH CRAM-MD5
    C: QUIT
    S: 221 bye`);
  const c2 = await open(fake2.port);
  const err = await rejects(c2.auth({ username: 'bob', password: 'x' }));
  assert.equal(err.code, 'auth');
  assert.match(err.message, /CRAM-MD5/);
  await c.quit();
  await c2.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
  assert.deepEqual((await fake2.settled())[0]!.errors, []);
});

test('overlapping calls are refused', async () => {
  const fake = await fakeServer(`
    S: 220 mx.test
    C: EHLO client.test
    S: 250 mx.test
    C: NOOP
    S: 250 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const first = c.noop();
  await assert.rejects(c.noop(), /already in progress/);
  await first;
  await c.quit();
});
