/** STLS (RFC 2595) and implicit TLS (RFC 8314) with a certificate made for the test. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { LineClient, play, transcript } from '../support/transcript.js';
import { startServer } from './setup.js';

let tls: { key: string; cert: string };
let other: { key: string; cert: string };

before(async () => {
  const a = await generate([{ name: 'commonName', value: 'uu.ac.kr' }], { keySize: 2048 });
  const b = await generate([{ name: 'commonName', value: 'renewed.uu.ac.kr' }], { keySize: 2048 });
  tls = { key: a.private, cert: a.cert };
  other = { key: b.private, cert: b.cert };
});

const CAPA_PLAIN_UNTRUSTED = `
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: STLS
    S: IMPLEMENTATION Posthorn
    S: .`;

test('STLS, then plain-text login is allowed for a client that was refused before', async () => {
  const { port } = await startServer({ tls, isTrustedClient: () => false });
  const c = await LineClient.connect(port);
  await play(
    c,
    `
    S: +OK *
    C: CAPA
    ${CAPA_PLAIN_UNTRUSTED}
    C: USER kihyun
    S: -ERR [AUTH] *
    C: STLS
    S: +OK Begin TLS negotiation
    `,
  );
  await c.startTls();
  assert.ok((c.socket as TLSSocket).encrypted);
  await play(
    c,
    `
    C: CAPA
    S: +OK *
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: USER
    S: SASL PLAIN LOGIN
    S: IMPLEMENTATION Posthorn
    S: .
    C: STLS
    S: -ERR Already using TLS
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK kihyun@uu.ac.kr has 2 messages (151 octets)
    C: RETR 2
    S: +OK 48 octets
    S: From: bob@example.org
    S: Subject: Two
    S: 
    S: Second.
    S: .
    C: QUIT
    S: +OK *
    S: <closed>
    `,
  );
  c.close();
});

test('commands pipelined after STLS are discarded, never run in plain text', async () => {
  const { port, backend } = await startServer({ tls });
  const c = await LineClient.connect(port);
  await play(c, 'S: +OK *\nC: STLS\nC: USER kihyun\nC: PASS kihyun0\nS: +OK Begin TLS negotiation');
  await c.startTls();
  await play(c, 'C: STAT\nS: -ERR Not allowed before login\nC: QUIT\nS: +OK *');
  c.close();
  assert.equal(backend.authCalls.length, 0);
});

test('STLS without a certificate configured is refused', async () => {
  const { port } = await startServer();
  await transcript(port, 'S: +OK *\nC: STLS\nS: -ERR STLS not available\nC: QUIT\nS: +OK *');
});

test('a failed handshake after STLS closes that connection only', async () => {
  const { port } = await startServer({ tls });
  await transcript(port, 'S: +OK *\nC: STLS\nS: +OK *\nC: this is not a TLS ClientHello\nS: <closed>');
  await transcript(port, 'S: +OK *\nC: QUIT\nS: +OK *');
});

test('implicit TLS (pop3s, port 995 style)', async () => {
  const { port, backend } = await startServer({ tls, implicitTls: true, isTrustedClient: () => false });
  const c = await LineClient.connectTls(port);
  await play(
    c,
    `
    S: +OK Posthorn POP3 server ready
    C: CAPA
    S: +OK *
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: USER
    S: SASL PLAIN LOGIN
    S: IMPLEMENTATION Posthorn
    S: .
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: QUIT
    S: +OK *
    `,
  );
  c.close();
  assert.equal(backend.authCalls[0]!.conn.listener, 'pop3s');
  assert.equal(backend.authCalls[0]!.conn.tls, true);
});

test('setTlsContext: new connections get the new certificate', async () => {
  const { port, server } = await startServer({ tls, implicitTls: true });
  const subject = async () => {
    const c = await LineClient.connectTls(port);
    const cn = (c.socket as TLSSocket).getPeerCertificate().subject.CN;
    await play(c, 'S: +OK *\nC: QUIT\nS: +OK *');
    c.close();
    return cn;
  };
  assert.equal(await subject(), 'uu.ac.kr');
  server.setTlsContext(other);
  assert.equal(await subject(), 'renewed.uu.ac.kr');
});
