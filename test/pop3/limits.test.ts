/** Limits: line length, bad commands, commands per session, idle timeout, connections. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { LineClient, play, transcript } from '../support/transcript.js';
import { KIHYUN, startServer, waitUnlocked } from './setup.js';

test('over-long command lines get -ERR, the session goes on, and repeated ones close it', async () => {
  const { port } = await startServer({ limits: { maxCommandLength: 64, maxLongLines: 2 } });
  const long = `USER ${'x'.repeat(100)}`;
  await transcript(
    port,
    `
    S: +OK *
    C: ${long}
    S: -ERR Command line too long
    C: NOOP
    S: -ERR Not allowed before login
    C: USER ${'y'.repeat(57)}
    S: +OK Send PASS
    C: ${long}${long}${long}
    S: -ERR Command line too long
    S: <closed>
    `,
  );
});

test('a line arriving in pieces is bounded while it arrives', async () => {
  const { port } = await startServer({ limits: { maxCommandLength: 64 } });
  const c = await LineClient.connect(port);
  await play(c, 'S: +OK *');
  for (let i = 0; i < 20; i++) c.write('z'.repeat(50));
  await play(c, 'C: \nS: -ERR Command line too long\nC: QUIT\nS: +OK *\nS: <closed>');
});

test('unknown commands: the session closes after maxBadCommands', async () => {
  const { port } = await startServer({ limits: { maxBadCommands: 3 } });
  await transcript(
    port,
    `
    S: +OK *
    C: EHLO x
    S: -ERR Unknown command
    C: GET / HTTP/1.0
    S: -ERR Unknown command
    C: HELO
    S: -ERR Unknown command
    S: <closed>
    `,
  );
});

test('commands per session are limited; hitting the limit deletes nothing', async () => {
  const { port, backend } = await startServer({ limits: { maxCommandsPerSession: 5 } });
  await transcript(
    port,
    `
    S: +OK *
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: DELE 1
    S: +OK *
    C: NOOP
    S: +OK
    C: NOOP
    S: +OK
    C: QUIT
    S: -ERR [SYS/PERM] Too many commands in this session
    S: <closed>
    `,
  );
  await waitUnlocked(backend);
  assert.equal(backend.messages(KIHYUN).length, 2);
});

test('the idle timer logs out, releases the maildrop and deletes nothing', async () => {
  const { port, backend } = await startServer({ limits: { idleTimeoutMs: 150 } });
  const c = await LineClient.connect(port);
  await play(c, 'S: +OK *\nC: USER kihyun\nS: +OK *\nC: PASS kihyun0\nS: +OK *\nC: DELE 1\nS: +OK *');
  const t0 = Date.now();
  await play(c, 'S: -ERR Autologout; idle for too long\nS: <closed>');
  assert.ok(Date.now() - t0 >= 100);
  await waitUnlocked(backend);
  assert.equal(backend.messages(KIHYUN).length, 2);
});

test('activity keeps a session alive past the idle timeout', async () => {
  const { port } = await startServer({ limits: { idleTimeoutMs: 500 } });
  const c = await LineClient.connect(port);
  await play(c, 'S: +OK *');
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 150));
    await play(c, 'C: CAPA\nS: +OK *\nS~ .*\nS~ .*\nS~ .*\nS~ .*\nS~ .*\nS~ .*\nS~ .*\nS~ .*\nS: .');
  }
  await play(c, 'C: QUIT\nS: +OK *');
  c.close();
});

test('maxConnections: one more gets -ERR [SYS/TEMP] and is closed', async () => {
  const { port, server } = await startServer({ limits: { maxConnections: 2 } });
  const a = await LineClient.connect(port);
  const b = await LineClient.connect(port);
  await play(a, 'S: +OK *');
  await play(b, 'S: +OK *');
  assert.equal(server.connections, 2);
  await transcript(port, 'S: -ERR [SYS/TEMP] Too many connections, try again later\nS: <closed>');
  await play(a, 'C: QUIT\nS: +OK *\nS: <closed>');
  const deadline = Date.now() + 2000;
  while (server.connections > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await transcript(port, 'S: +OK Posthorn POP3 server ready\nC: QUIT\nS: +OK *');
  b.close();
});

test('a client that stops reading mid-RETR is cut after the idle timeout; nothing is deleted', async () => {
  const { port, backend } = await startServer({ limits: { idleTimeoutMs: 200 } });
  const line = Buffer.from(`${'x'.repeat(1022)}\r\n`);
  backend.deliver(KIHYUN, Buffer.concat(Array<Buffer>(40 * 1024).fill(line))); // 40 MiB
  const s = connect({ port, host: '127.0.0.1' });
  await new Promise((r) => s.once('connect', r));
  s.write('USER kihyun\r\nPASS kihyun0\r\nDELE 1\r\nRETR 3\r\n');
  s.pause();
  const t0 = Date.now();
  while (!backend.isLocked(KIHYUN)) await new Promise((r) => setTimeout(r, 5));
  await waitUnlocked(backend);
  assert.ok(Date.now() - t0 >= 150);
  assert.equal(backend.messages(KIHYUN).length, 3);
  s.destroy();
});
