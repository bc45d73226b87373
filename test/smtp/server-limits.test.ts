/** Timeouts, connection limits, error limit, graceful close, and the log lines of a session. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SmtpServer } from '../../src/smtp/index.js';
import { MemorySmtpBackend } from '../support/memory-smtp-backend.js';
import { LineClient, play, transcript } from '../support/transcript.js';
import { eventually, memoryLogger, startServer } from './harness.js';

test('idle timeout: 421 4.4.2 and close; data block timeout likewise, the body is aborted', async () => {
  const { port, backend } = await startServer({ limits: { idleTimeout: 150, dataBlockTimeout: 150 } });
  const started = Date.now();
  await transcript(port, 'S: 220 *\nS: 421 4.4.2 mx.example.org Error: timeout exceeded\nS: <closed>');
  assert.ok(Date.now() - started >= 140);
  const c = await LineClient.connect(port);
  try {
    await play(
      c,
      `
      S: 220 *
      C: HELO c.example
      S: 250 *
      C: MAIL FROM:<a@example.net>
      S: 250 *
      C: RCPT TO:<u@example.org>
      S: 250 *
      C: DATA
      S: 354 *
      C: half a message
      S: 421 4.4.2 mx.example.org Error: timeout exceeded
      S: <closed>
      `,
    );
  } finally {
    c.close();
  }
  await eventually(() => backend.aborted === 1);
  assert.equal(backend.messages.length, 0);
});

test('a slow backend is not a client timeout', async () => {
  const { port, backend } = await startServer({ limits: { idleTimeout: 100 } });
  backend.onData = () => sleep(300);
  await transcript(
    port,
    `
    S: 220 *
    C: HELO c.example
    S: 250 *
    C: MAIL FROM:<a@example.net>
    S: 250 *
    C: RCPT TO:<u@example.org>
    S: 250 *
    C: DATA
    S: 354 *
    C: x
    C: .
    S: 250 2.0.0 *
    C: QUIT
    S: 221 *
    `,
  );
});

test('maxConnections and maxConnectionsPerIp: 421 4.7.0 too many connections', async () => {
  const { port } = await startServer({ limits: { maxConnections: 2 } });
  const a = await LineClient.connect(port);
  const b = await LineClient.connect(port);
  try {
    await a.readReply();
    await b.readReply();
    await transcript(
      port,
      'S: 421 4.7.0 mx.example.org Error: too many connections, try again later\nS: <closed>',
    );
    a.close();
    await sleep(50);
    await transcript(port, 'S: 220 *');
  } finally {
    a.close();
    b.close();
  }
  const per = await startServer({ limits: { maxConnectionsPerIp: 1 } });
  const x = await LineClient.connect(per.port);
  try {
    await x.readReply();
    await transcript(per.port, 'S: 421 4.7.0 *\nS: <closed>');
  } finally {
    x.close();
  }
});

test('too many errors: 421 4.7.0 and close', async () => {
  const { port } = await startServer({ limits: { maxErrors: 3 } });
  await transcript(
    port,
    `
    S: 220 *
    C: FOO
    S: 500 *
    C: BAR
    S: 500 *
    C: NOOP
    S: 250 *
    C: BAZ
    S: 500 *
    S: 421 4.7.0 mx.example.org Error: too many errors
    S: <closed>
    `,
  );
});

test('graceful close: idle sessions get 421 4.3.2 at once; an open transaction finishes first', async () => {
  const backend = new MemorySmtpBackend();
  const server = new SmtpServer({ hostname: 'mx.example.org', backend });
  const { port } = await server.listen('127.0.0.1', 0);
  const idle = await LineClient.connect(port);
  const busy = await LineClient.connect(port);
  await idle.readReply();
  await play(busy, 'S: 220 *\nC: HELO c.example\nS: 250 *\nC: MAIL FROM:<a@example.net>\nS: 250 *');
  const closed = server.close(5000);
  await play(
    idle,
    'S: 421 4.3.2 mx.example.org Service shutting down, closing transmission channel\nS: <closed>',
  );
  // The transaction goes on; new connections are refused.
  await assert.rejects(LineClient.connect(port));
  await play(
    busy,
    'C: RCPT TO:<u@example.org>\nS: 250 *\nC: DATA\nS: 354 *\nC: last one\nC: .\nS: 250 2.0.0 OK m1',
  );
  await play(busy, 'S: 421 4.3.2 *\nS: <closed>');
  await closed;
  assert.equal(backend.messages.length, 1);
  assert.equal(server.connectionCount, 0);
});

test('graceful close times out: 421 and the unfinished transfer is aborted', async () => {
  const backend = new MemorySmtpBackend();
  const server = new SmtpServer({ hostname: 'mx.example.org', backend });
  const { port } = await server.listen('127.0.0.1', 0);
  const c = await LineClient.connect(port);
  await play(
    c,
    'S: 220 *\nC: HELO c.example\nS: 250 *\nC: MAIL FROM:<a@example.net>\nS: 250 *\nC: RCPT TO:<u@example.org>\nS: 250 *\nC: DATA\nS: 354 *\nC: partial',
  );
  const started = Date.now();
  await server.close(200);
  assert.ok(Date.now() - started >= 190);
  await play(c, 'S: 421 4.3.2 *\nS: <closed>');
  await eventually(() => backend.aborted === 1);
  assert.equal(backend.messages.length, 0);
});

test('one log line per event with the session id: connect, message accepted, disconnect', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const { port } = await startServer({ logger: memoryLogger(lines) });
  await transcript(
    port,
    'S: 220 *\nC: HELO c.example\nS: 250 *\nC: MAIL FROM:<a@example.net>\nC: RCPT TO:<u@example.org>\nC: DATA\nS: 250 *\nS: 250 *\nS: 354 *\nC: x\nC: .\nS: 250 *\nC: QUIT\nS: 221 *',
  );
  await eventually(() => lines.some((l) => l.msg === 'disconnect'));
  const session = lines.find((l) => l.msg === 'connect')!.session;
  assert.equal(typeof session, 'string');
  const events = lines.filter((l) => l.session === session).map((l) => l.msg);
  assert.deepEqual(events, ['connect', 'message accepted', 'disconnect']);
  const accepted = lines.find((l) => l.msg === 'message accepted')!;
  assert.equal(accepted.from, 'a@example.net');
  assert.equal(accepted.rcpts, 1);
  assert.equal(accepted.size, 3);
  assert.equal(accepted.listener, 'smtp');
});

test('many idle connections are held cheaply', async () => {
  const { port, server } = await startServer({ limits: { maxConnectionsPerIp: 1000 } });
  const clients = await Promise.all(Array.from({ length: 300 }, () => LineClient.connect(port)));
  try {
    await Promise.all(clients.map((c) => c.readReply()));
    assert.equal(server.connectionCount, 300);
    await transcript(port, 'S: 220 *\nC: NOOP\nS: 250 2.0.0 OK');
  } finally {
    for (const c of clients) c.close();
  }
  await eventually(() => server.connectionCount === 0);
});
