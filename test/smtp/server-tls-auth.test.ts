/** STARTTLS (RFC 3207), implicit TLS (RFC 8314), AUTH PLAIN/LOGIN (RFC 4954) over real TCP. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createSecureContext, type TLSSocket } from 'node:tls';
import selfsigned from 'selfsigned';
import { encodePlain } from '../../src/wire/index.js';
import { LineClient, play } from '../support/transcript.js';
import { memoryLogger, startServer } from './harness.js';

let pems: { key: string; cert: string };
let other: { key: string; cert: string };

before(async () => {
  const make = async (cn: string) => {
    const p = await selfsigned.generate([{ name: 'commonName', value: cn }], { keySize: 2048 });
    return { key: p.private, cert: p.cert };
  };
  [pems, other] = await Promise.all([make('mx.example.org'), make('renewed.example.org')]);
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function ehlo(c: LineClient): Promise<string[]> {
  c.send('EHLO c.example');
  return c.readReply();
}

test('STARTTLS: advertised, 220, handshake, state forgotten, EHLO again, then a transaction', async () => {
  const { port, backend } = await startServer({ tls: pems });
  const c = await LineClient.connect(port);
  try {
    await c.readReply();
    assert.ok((await ehlo(c)).includes('250-STARTTLS'));
    await play(c, 'C: MAIL FROM:<a@example.net>\nS: 250 *\nC: STARTTLS\nS: 220 2.0.0 Ready to start TLS');
    await c.startTls();
    assert.equal((c.socket as TLSSocket).encrypted, true);
    // RFC 3207 §4.2: the session starts over: no HELO, no transaction.
    await play(c, 'C: MAIL FROM:<a@example.net>\nS: 503 5.5.1 Error: send HELO/EHLO first');
    const caps = await ehlo(c);
    assert.ok(!caps.includes('250-STARTTLS'));
    await play(
      c,
      `
      C: STARTTLS
      S: 503 5.5.1 Error: TLS already active
      C: MAIL FROM:<a@example.net>
      S: 250 *
      C: RCPT TO:<u@example.org>
      S: 250 *
      C: DATA
      S: 354 *
      C: secret
      C: .
      S: 250 2.0.0 OK m1
      C: QUIT
      S: 221 *
      `,
    );
  } finally {
    c.close();
  }
  assert.equal(backend.messages[0]!.conn.tls, true);
  assert.equal(backend.messages[0]!.data.toString(), 'secret\r\n');
});

test('STARTTLS command injection: commands pipelined after STARTTLS are discarded, not run after TLS', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const { port, backend } = await startServer({ tls: pems, logger: memoryLogger(lines) });
  const c = await LineClient.connect(port);
  try {
    await c.readReply();
    await ehlo(c);
    c.write('STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<u@example.org>\r\n');
    assert.deepEqual(await c.readReply(), ['220 2.0.0 Ready to start TLS']);
    await c.startTls();
    // Had the injected MAIL run, this EHLO would not be the first reply; and MAIL would be nested.
    const caps = await ehlo(c);
    assert.match(caps[0]!, /^250-mx\.example\.org greets c\.example$/);
    await play(c, 'C: RCPT TO:<u@example.org>\nS: 503 5.5.1 Error: need MAIL command');
  } finally {
    c.close();
  }
  assert.equal(backend.messages.length, 0);
  assert.ok(lines.some((l) => l.msg === 'discarded data pipelined after STARTTLS'));
});

test('implicit TLS (smtps) and setTlsContext for certificate reload', async () => {
  const { port, server } = await startServer({ tls: pems, implicitTls: true, listener: 'smtps' });
  const c = await LineClient.connectTls(port);
  try {
    await play(c, 'S: 220 mx.example.org ESMTP Posthorn');
    const caps = await ehlo(c);
    assert.ok(!caps.includes('250-STARTTLS'));
    const cn = (c.socket as TLSSocket).getPeerCertificate().subject.CN;
    assert.equal(cn, 'mx.example.org');
  } finally {
    c.close();
  }
  server.setTlsContext(createSecureContext(other));
  const d = await LineClient.connectTls(port);
  try {
    await play(d, 'S: 220 *');
    assert.equal((d.socket as TLSSocket).getPeerCertificate().subject.CN, 'renewed.example.org');
  } finally {
    d.close();
  }
});

test('AUTH PLAIN and LOGIN on loopback without TLS: success, failure, cancel, malformed', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const { port, backend } = await startServer(
    { logger: memoryLogger(lines) },
    { passwords: { kihyun: 'kihyun0' }, localDomains: ['uu.ac.kr'] },
  );
  const c = await LineClient.connect(port);
  try {
    await c.readReply();
    assert.ok((await ehlo(c)).includes('250-AUTH PLAIN LOGIN'));
    await play(
      c,
      `
      C: AUTH PLAIN ${encodePlain('kihyun', 'wrong')}
      S: 535 5.7.8 Authentication credentials invalid
      C: AUTH PLAIN
      S: 334 
      C: *
      S: 501 5.0.0 Authentication cancelled
      C: AUTH PLAIN not-base64!
      S: 501 5.5.2 Error: *
      C: AUTH CRAM-MD5
      S: 504 5.5.4 Unrecognized authentication type
      C: AUTH LOGIN
      S: 334 ${b64('Username:')}
      C: ${b64('kihyun')}
      S: 334 ${b64('Password:')}
      C: ${b64('nope')}
      S: 535 5.7.8 Authentication credentials invalid
      C: AUTH PLAIN
      S: 334 
      C: ${encodePlain('kihyun', 'kihyun0')}
      S: 235 2.7.0 Authentication successful
      C: AUTH PLAIN ${encodePlain('kihyun', 'kihyun0')}
      S: 503 5.5.1 Error: already authenticated
      C: MAIL FROM:<kihyun@uu.ac.kr>
      S: 250 *
      C: RCPT TO:<friend@elsewhere.example>
      S: 250 *
      C: DATA
      S: 354 *
      C: relayed because authenticated
      C: .
      S: 250 *
      `,
    );
  } finally {
    c.close();
  }
  assert.equal(backend.messages[0]!.conn.authUser, 'kihyun');
  const text = JSON.stringify(lines);
  assert.ok(!text.includes('kihyun0') && !text.includes('nope'), 'passwords never logged');
  assert.ok(lines.some((l) => l.msg === 'authenticated' && l.user === 'kihyun'));
});

test('AUTH LOGIN with initial response; submission requires AUTH (530 5.7.0)', async () => {
  const { port } = await startServer(
    { requireAuth: true, listener: 'submission' },
    { passwords: { u: 'p' } },
  );
  const c = await LineClient.connect(port);
  try {
    await c.readReply();
    await ehlo(c);
    await play(
      c,
      `
      C: MAIL FROM:<u@example.org>
      S: 530 5.7.0 Authentication required
      C: AUTH LOGIN ${b64('u')}
      S: 334 ${b64('Password:')}
      C: ${b64('p')}
      S: 235 2.7.0 Authentication successful
      C: MAIL FROM:<u@example.org>
      S: 250 *
      `,
    );
  } finally {
    c.close();
  }
});

test('AUTH not offered in clear text when not allowed (538 5.7.11), offered after STARTTLS', async () => {
  const { port } = await startServer({ tls: pems, authAllowedPlain: false }, { passwords: { u: 'p' } });
  const c = await LineClient.connect(port);
  try {
    await c.readReply();
    assert.ok(!(await ehlo(c)).some((l) => l.includes('AUTH')));
    await play(
      c,
      `C: AUTH PLAIN ${encodePlain('u', 'p')}\nS: 538 5.7.11 Encryption required for requested authentication mechanism`,
    );
    await play(c, 'C: STARTTLS\nS: 220 *');
    await c.startTls();
    assert.ok((await ehlo(c)).includes('250-AUTH PLAIN LOGIN'));
    await play(c, `C: AUTH PLAIN ${encodePlain('u', 'p')}\nS: 235 2.7.0 Authentication successful`);
  } finally {
    c.close();
  }
});
