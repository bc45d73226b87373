/** RFC 1939 states and TRANSACTION commands, as literal conversations over real TCP. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Pop3Error } from '../../src/pop3/index.js';
import { LineClient, play, transcript } from '../support/transcript.js';
import { KIHYUN, SECOND_MESSAGE, startServer, TEXTBOOK_MESSAGE, waitUnlocked } from './setup.js';

/** Sends everything in one write and collects every byte until the server closes. */
function rawExchange(port: number, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => s.write(input));
    const parts: Buffer[] = [];
    s.on('data', (d) => parts.push(d));
    s.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
    s.on('error', reject);
  });
}

test('the textbook session, byte for byte', async () => {
  const { port, backend } = await startServer();
  assert.equal(Buffer.byteLength(TEXTBOOK_MESSAGE), 103);
  assert.equal(Buffer.byteLength(SECOND_MESSAGE), 48);
  await transcript(
    port,
    `
    S: +OK Posthorn POP3 server ready
    C: USER kihyun
    S: +OK Send PASS
    C: PASS kihyun0
    S: +OK kihyun@uu.ac.kr has 2 messages (151 octets)
    C: STAT
    S: +OK 2 151
    C: LIST
    S: +OK 2 messages (151 octets)
    S: 1 103
    S: 2 48
    S: .
    C: RETR 1
    S: +OK 103 octets
    S: From: alice@example.org
    S: To: kihyun@uu.ac.kr
    S: Subject: Hello
    S: 
    S: Hi kihyun, this is the first message.
    S: .
    C: DELE 1
    S: +OK Message 1 deleted
    C: QUIT
    S: +OK Posthorn POP3 server signing off (1 messages left)
    S: <closed>
    `,
  );
  assert.deepEqual(
    backend.messages(KIHYUN).map((m) => m.bytes.toString()),
    [SECOND_MESSAGE],
  );
  assert.equal(backend.isLocked(KIHYUN), false);
});

test('pipelining (RFC 2449 §6.6): one write, every answer in order, exact bytes', async () => {
  const { port, backend } = await startServer();
  const [u1, u2] = backend.messages(KIHYUN).map((m) => m.uid);
  const out = await rawExchange(
    port,
    'USER kihyun\r\nPASS kihyun0\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nDELE 2\r\nSTAT\r\nLIST 2\r\nQUIT\r\n',
  );
  assert.equal(
    out,
    '+OK Posthorn POP3 server ready\r\n' +
      '+OK Send PASS\r\n' +
      '+OK kihyun@uu.ac.kr has 2 messages (151 octets)\r\n' +
      '+OK 2 151\r\n' +
      '+OK 2 messages (151 octets)\r\n1 103\r\n2 48\r\n.\r\n' +
      `+OK Unique-id listing follows\r\n1 ${u1}\r\n2 ${u2}\r\n.\r\n` +
      `+OK 48 octets\r\n${SECOND_MESSAGE}.\r\n` +
      '+OK Message 2 deleted\r\n' +
      '+OK 1 103\r\n' +
      '-ERR Message 2 already deleted\r\n' +
      '+OK Posthorn POP3 server signing off (1 messages left)\r\n',
  );
  assert.equal(backend.messages(KIHYUN).length, 1);
});

test('UPDATE only on QUIT: a dropped connection deletes nothing and frees the lock', async () => {
  const { port, backend } = await startServer();
  const c = await LineClient.connect(port);
  await play(
    c,
    `
    S: +OK *
    C: USER kihyun@uu.ac.kr
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: DELE 1
    S: +OK *
    C: DELE 2
    S: +OK *
    C: STAT
    S: +OK 0 0
    `,
  );
  c.close();
  await waitUnlocked(backend);
  assert.equal(backend.messages(KIHYUN).length, 2);
  assert.equal(backend.commits, 0);
});

test('RSET undoes DELE; deleted messages are invisible until then', async () => {
  const { port, backend } = await startServer();
  await transcript(
    port,
    `
    S: +OK *
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: DELE 1
    S: +OK Message 1 deleted
    C: DELE 1
    S: -ERR Message 1 already deleted
    C: RETR 1
    S: -ERR Message 1 already deleted
    C: LIST 1
    S: -ERR Message 1 already deleted
    C: UIDL 1
    S: -ERR Message 1 already deleted
    C: TOP 1 0
    S: -ERR Message 1 already deleted
    C: LIST
    S: +OK 1 message (48 octets)
    S: 2 48
    S: .
    C: STAT
    S: +OK 1 48
    C: RSET
    S: +OK maildrop has 2 messages (151 octets)
    C: STAT
    S: +OK 2 151
    C: LIST 1
    S: +OK 1 103
    C: QUIT
    S: +OK *
    S: <closed>
    `,
  );
  assert.equal(backend.messages(KIHYUN).length, 2);
  assert.equal(backend.commits, 0);
});

test('message numbers: out of range and malformed arguments get -ERR', async () => {
  const { port } = await startServer();
  await transcript(
    port,
    `
    S: +OK *
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: RETR 3
    S: -ERR No such message
    C: RETR 0
    S: -ERR Invalid message number
    C: RETR
    S: -ERR Invalid message number
    C: LIST x
    S: -ERR Invalid message number
    C: DELE -1
    S: -ERR Invalid message number
    C: TOP 1
    S: -ERR TOP needs a message number and a line count
    C: TOP 1 -1
    S: -ERR TOP needs a message number and a line count
    C: STAT 1
    S: -ERR STAT takes no arguments
    C: NOOP
    S: +OK
    C: uidl 2
    S: +OK 2 m*
    C: QUIT
    S: +OK *
    `,
  );
});

test('AUTHORIZATION refuses TRANSACTION commands; TRANSACTION refuses login commands', async () => {
  const { port } = await startServer();
  await transcript(
    port,
    `
    S: +OK *
    C: STAT
    S: -ERR Not allowed before login
    C: RETR 1
    S: -ERR Not allowed before login
    C: PASS kihyun0
    S: -ERR Send USER first
    C: XYZZY
    S: -ERR Unknown command
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: USER kihyun
    S: -ERR Already logged in
    C: AUTH PLAIN
    S: -ERR Already logged in
    C: STLS
    S: -ERR Already logged in
    C: QUIT
    S: +OK *
    `,
  );
});

test('QUIT in AUTHORIZATION closes without touching the maildrop', async () => {
  const { port, backend } = await startServer();
  await transcript(port, 'S: +OK *\nC: QUIT\nS: +OK Posthorn POP3 server signing off\nS: <closed>');
  assert.equal(backend.commits, 0);
});

test('CAPA (RFC 2449) before and after login', async () => {
  const { port } = await startServer();
  await transcript(
    port,
    `
    S: +OK *
    C: CAPA
    S: +OK Capability list follows
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
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: IMPLEMENTATION Posthorn
    S: .
    C: QUIT
    S: +OK *
    `,
  );
});

test('a second session on a locked maildrop gets -ERR [IN-USE]; the lock ends with the first', async () => {
  const { port, backend } = await startServer();
  const first = await LineClient.connect(port);
  await play(first, 'S: +OK *\nC: USER kihyun\nS: +OK *\nC: PASS kihyun0\nS: +OK *');
  await transcript(
    port,
    `
    S: +OK *
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: -ERR [IN-USE] Maildrop already locked by another session
    C: STAT
    S: -ERR Not allowed before login
    `,
  );
  await play(first, 'C: QUIT\nS: +OK *\nS: <closed>');
  assert.equal(backend.isLocked(KIHYUN), false);
  await transcript(port, 'S: +OK *\nC: USER kihyun\nS: +OK *\nC: PASS kihyun0\nS: +OK *\nC: QUIT\nS: +OK *');
});

test('snapshot: mail delivered during a session is not in it and survives its UPDATE', async () => {
  const { port, backend } = await startServer();
  const c = await LineClient.connect(port);
  await play(c, 'S: +OK *\nC: USER kihyun\nS: +OK *\nC: PASS kihyun0\nS: +OK * 2 messages *');
  const late = backend.deliver(KIHYUN, 'Subject: late\r\n\r\nlate\r\n');
  await play(
    c,
    'C: STAT\nS: +OK 2 151\nC: RETR 3\nS: -ERR No such message\nC: DELE 1\nS: +OK *\nC: DELE 2\nS: +OK *',
  );
  await play(c, 'C: QUIT\nS: +OK * (0 messages left)\nS: <closed>');
  c.close();
  assert.deepEqual(
    backend.messages(KIHYUN).map((m) => m.uid),
    [late],
  );
});

test('a failed commit answers -ERR [SYS/TEMP], deletes nothing and releases the lock', async () => {
  const { port, backend } = await startServer();
  backend.failCommit = new Error('disk on fire');
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
    C: QUIT
    S: -ERR [SYS/TEMP] Some deleted messages were not removed
    S: <closed>
    `,
  );
  assert.equal(backend.messages(KIHYUN).length, 2);
  assert.equal(backend.isLocked(KIHYUN), false);
});

test('TOP reads only the start of a big message from the store', async () => {
  const { port, backend } = await startServer();
  backend.chunkSize = 4096;
  backend.deliver(KIHYUN, `Subject: big\r\n\r\n${'body line\r\n'.repeat(200_000)}`);
  const before = backend.bytesRead;
  await transcript(
    port,
    `
    S: +OK *
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: TOP 3 2
    S: +OK Top of message follows
    S: Subject: big
    S: 
    S: body line
    S: body line
    S: .
    C: QUIT
    S: +OK *
    `,
  );
  // The first chunk holds all TOP sends; the test backend's stream may have read one ahead.
  assert.ok(backend.bytesRead - before <= 2 * 4096, `read ${backend.bytesRead - before} octets of 2 MB`);
});

test('TOP: k=0, k within the body, k beyond the body, and byte-stuffed lines', async () => {
  const { port, backend } = await startServer();
  backend.deliver(KIHYUN, 'Subject: dots\r\n\r\n.hidden\r\nline two\r\n..\r\n.\r\n');
  await transcript(
    port,
    `
    S: +OK *
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: TOP 1 0
    S: +OK Top of message follows
    S: From: alice@example.org
    S: To: kihyun@uu.ac.kr
    S: Subject: Hello
    S: 
    S: .
    C: TOP 3 1
    S: +OK *
    S: Subject: dots
    S: 
    S: ..hidden
    S: .
    C: TOP 3 100
    S: +OK *
    S: Subject: dots
    S: 
    S: ..hidden
    S: line two
    S: ...
    S: ..
    S: .
    C: RETR 3
    S: +OK 43 octets
    S: Subject: dots
    S: 
    S: ..hidden
    S: line two
    S: ...
    S: ..
    S: .
    C: QUIT
    S: +OK *
    `,
  );
});

test('a message whose last line lacks CRLF gets one before the terminator; chunk size 1', async () => {
  const { port, backend } = await startServer();
  backend.chunkSize = 1;
  backend.deliver(KIHYUN, 'Subject: x\r\n\r\n.start\r\nno newline at end');
  const out = await rawExchange(
    port,
    'USER kihyun\r\nPASS kihyun0\r\nLIST 3\r\nRETR 3\r\nTOP 3 0\r\nQUIT\r\n',
  );
  const body = out.slice(out.indexOf('+OK 3 '));
  assert.equal(
    body,
    '+OK 3 39\r\n' +
      '+OK 39 octets\r\nSubject: x\r\n\r\n..start\r\nno newline at end\r\n.\r\n' +
      '+OK Top of message follows\r\nSubject: x\r\n\r\n.\r\n' +
      '+OK Posthorn POP3 server signing off (3 messages left)\r\n',
  );
});

test('USER is passed to the backend verbatim: kihyun and kihyun@uu.ac.kr', async () => {
  const { port, backend } = await startServer();
  for (const user of ['kihyun', 'kihyun@uu.ac.kr']) {
    await transcript(
      port,
      `S: +OK *\nC: USER ${user}\nS: +OK *\nC: PASS kihyun0\nS: +OK kihyun@uu.ac.kr has *\nC: QUIT\nS: +OK *`,
    );
  }
  assert.deepEqual(
    backend.authCalls.map((c) => c.user),
    ['kihyun', 'kihyun@uu.ac.kr'],
  );
  assert.equal(backend.authCalls[0]!.conn.listener, 'pop3');
  assert.equal(backend.authCalls[0]!.conn.remoteAddress, '127.0.0.1');
});

test('close() tells idle sessions, releases their maildrops and deletes nothing', async () => {
  const { server, port, backend } = await startServer();
  const c = await LineClient.connect(port);
  await play(c, 'S: +OK *\nC: USER kihyun\nS: +OK *\nC: PASS kihyun0\nS: +OK *\nC: DELE 1\nS: +OK *');
  await server.close();
  await play(c, 'S: -ERR [SYS/TEMP] Server shutting down\nS: <closed>');
  assert.equal(backend.isLocked(KIHYUN), false);
  assert.equal(backend.messages(KIHYUN).length, 2);
});

test('a message that cannot be read gets -ERR [SYS/TEMP]; a read failing after output began closes the connection', async () => {
  const { port, backend } = await startServer();
  backend.chunkSize = 16;
  backend.failRead = 'open';
  await transcript(
    port,
    `
    S: +OK *
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: DELE 2
    S: +OK *
    C: RETR 1
    S: -ERR [SYS/TEMP] Temporary server error, try again later
    C: NOOP
    S: +OK
    `,
  );
  await waitUnlocked(backend);
  // A small message failing on its second chunk: nothing has gone out yet, so -ERR still can.
  backend.failRead = 'mid';
  await transcript(
    port,
    `
    S: +OK *
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: RETR 1
    S: -ERR [SYS/TEMP] Temporary server error, try again later
    C: NOOP
    S: +OK
    C: QUIT
    S: +OK *
    `,
  );
  await waitUnlocked(backend);
  // A large message failing once its first 100 KiB are on the wire: the +OK is out, so the only
  // honest signal left is to close without the terminator. Nothing is deleted.
  const big = `Subject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(3000);
  backend.deliver(KIHYUN, big);
  backend.chunkSize = 100 * 1024;
  const client = await LineClient.connect(port);
  await play(
    client,
    `
    S: +OK *
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK *
    C: DELE 2
    S: +OK *
    C: RETR 3
    S: +OK ${big.length} octets
    `,
  );
  const body: string[] = [];
  for (let l = await client.readLine(); l !== undefined; l = await client.readLine()) body.push(l);
  assert.ok(body.length * 78 >= 100 * 1024 && body.length < 6000, `${body.length} lines before the close`);
  assert.notEqual(body.at(-1), '.', 'no terminator after a failed read');
  await waitUnlocked(backend);
  assert.equal(backend.messages(KIHYUN).length, 3);
});

test('backend errors when opening the maildrop keep their response code', async () => {
  const { port, backend } = await startServer();
  backend.failOpen = new Pop3Error('SYS/PERM', 'Mailbox is disabled', 'account suspended by admin');
  await transcript(
    port,
    'S: +OK *\nC: USER kihyun\nS: +OK *\nC: PASS kihyun0\nS: -ERR [SYS/PERM] Mailbox is disabled',
  );
  backend.failOpen = new Error('database is down: password=hunter2');
  await transcript(
    port,
    'S: +OK *\nC: USER kihyun\nS: +OK *\nC: PASS kihyun0\nS: -ERR [SYS/TEMP] Temporary server error, try again later',
  );
});
