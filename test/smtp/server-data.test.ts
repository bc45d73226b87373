/**
 * DATA over real TCP: dot-unstuffing, smuggling vectors (whole, split across packets, one byte at
 * a time), PIPELINING, SIZE, recipient limit, over-long lines, NUL, backend failures, backpressure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SmtpError } from '../../src/smtp/index.js';
import { LineClient, play, transcript } from '../support/transcript.js';
import { memoryLogger, startServer } from './harness.js';

async function greet(port: number): Promise<LineClient> {
  const c = await LineClient.connect(port);
  await play(c, 'S: 220 *\nC: HELO c.example\nS: 250 *');
  return c;
}

test('dot-unstuffing and an empty message', async () => {
  const { port, backend } = await startServer();
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
    C: ..leading dot
    C: ...
    C: .
    S: 250 *
    C: MAIL FROM:<a@example.net>
    S: 250 *
    C: RCPT TO:<u@example.org>
    S: 250 *
    C: DATA
    S: 354 *
    C: .
    S: 250 *
    `,
  );
  assert.equal(backend.messages[0]!.data.toString(), '.leading dot\r\n..\r\n');
  assert.equal(backend.messages[1]!.data.length, 0);
});

const vectors = ['\\n.\\n', '\\r\\n.\\n', '\\n.\\r\\n', '\\r.\\r', '\\r\\n.\\r', '\\r.\\r\\n', '\\n..\\n'];

for (const mode of ['one write', 'split packets', 'byte by byte'] as const) {
  test(`smuggling vectors never end DATA early nor inject a transaction (${mode})`, async () => {
    const { port, backend } = await startServer();
    for (const v of vectors) {
      const c = await greet(port);
      try {
        await play(
          c,
          'C: MAIL FROM:<a@example.net>\nS: 250 *\nC: RCPT TO:<u@example.org>\nS: 250 *\nC: DATA\nS: 354 *',
        );
        const payload = Buffer.from(
          `Subject: test\r\n\r\nbody${v.replace(/\\r/g, '\r').replace(/\\n/g, '\n')}MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n`,
          'latin1',
        );
        if (mode === 'one write') c.write(payload);
        else if (mode === 'split packets') {
          const cut = payload.indexOf('body') + 5;
          c.write(payload.subarray(0, cut));
          await sleep(20);
          c.write(payload.subarray(cut, cut + 2));
          await sleep(20);
          c.write(payload.subarray(cut + 2));
        } else {
          for (const b of payload) {
            c.write(Buffer.from([b]));
            await new Promise((r) => setImmediate(r));
          }
        }
        // Exactly one reply: the whole thing was one (refused) message.
        assert.deepEqual(
          await c.readReply(),
          ['554 5.6.0 Error: bare CR or LF in message; lines must end with CRLF'],
          v,
        );
        await play(c, 'C: NOOP\nS: 250 2.0.0 OK');
        // The session goes on normally.
        await play(
          c,
          'C: MAIL FROM:<a@example.net>\nS: 250 *\nC: RCPT TO:<u@example.org>\nS: 250 *\nC: DATA\nS: 354 *\nC: clean\nC: .\nS: 250 2.0.0 OK *',
        );
      } finally {
        c.close();
      }
    }
    assert.equal(backend.messages.length, vectors.length);
    for (const m of backend.messages) {
      assert.equal(m.from, 'a@example.net');
      assert.equal(m.data.toString(), 'clean\r\n');
    }
  });
}

test('a message ending in a properly stuffed line is delivered whole (split across packets)', async () => {
  const { port, backend } = await startServer();
  const c = await greet(port);
  try {
    await play(
      c,
      'C: MAIL FROM:<a@example.net>\nS: 250 *\nC: RCPT TO:<u@example.org>\nS: 250 *\nC: DATA\nS: 354 *',
    );
    for (const piece of ['line1\r', '\n.', '.two\r\n', '.', '\r', '\n']) {
      c.write(piece);
      await sleep(10);
    }
    assert.match((await c.readReply())[0]!, /^250 2\.0\.0/);
  } finally {
    c.close();
  }
  assert.equal(backend.messages[0]!.data.toString(), 'line1\r\n.two\r\n');
});

test('PIPELINING: EHLO, MAIL, RCPTs, DATA in one write; message and QUIT in the next', async () => {
  const { port, backend } = await startServer({}, { users: ['u1@example.org', 'u2@example.org'] });
  const c = await LineClient.connect(port);
  try {
    await c.readReply();
    c.write(
      'EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<u1@example.org>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<u2@example.org>\r\nDATA\r\n',
    );
    const ehlo = await c.readReply();
    assert.ok(ehlo.includes('250-PIPELINING'));
    assert.match((await c.readReply())[0]!, /^250 2\.1\.0/);
    assert.match((await c.readReply())[0]!, /^250 2\.1\.5/);
    assert.match((await c.readReply())[0]!, /^550 5\.1\.1/);
    assert.match((await c.readReply())[0]!, /^250 2\.1\.5/);
    assert.match((await c.readReply())[0]!, /^354/);
    c.write(
      'Subject: pipelined\r\n\r\nhello\r\n.\r\nMAIL FROM:<b@example.net>\r\nRCPT TO:<u1@example.org>\r\nDATA\r\n',
    );
    assert.match((await c.readReply())[0]!, /^250 2\.0\.0 OK m1/);
    assert.match((await c.readReply())[0]!, /^250 2\.1\.0/);
    assert.match((await c.readReply())[0]!, /^250 2\.1\.5/);
    assert.match((await c.readReply())[0]!, /^354/);
    c.write('second\r\n.\r\nQUIT\r\n');
    assert.match((await c.readReply())[0]!, /^250 2\.0\.0 OK m2/);
    assert.match((await c.readReply())[0]!, /^221/);
    await c.expectClosed();
  } finally {
    c.close();
  }
  assert.deepEqual(
    backend.messages[0]!.rcpts.map((r) => r.to),
    ['u1@example.org', 'u2@example.org'],
  );
  assert.equal(backend.messages[1]!.data.toString(), 'second\r\n');
});

test('SIZE: 552 5.3.4 at MAIL for a declared size, and during DATA after swallowing the rest', async () => {
  const { port, backend } = await startServer({ limits: { maxMessageSize: 1000 } });
  const c = await LineClient.connect(port);
  try {
    await c.readReply();
    c.send('EHLO c.example');
    assert.ok((await c.readReply()).includes('250-SIZE 1000'));
    await play(
      c,
      `
      C: MAIL FROM:<a@example.net> SIZE=1001
      S: 552 5.3.4 Message size exceeds fixed maximum message size
      C: MAIL FROM:<a@example.net> SIZE=1000
      S: 250 *
      C: RCPT TO:<u@example.org>
      S: 250 *
      C: DATA
      S: 354 *
      `,
    );
    for (let i = 0; i < 50; i++) c.write(`${'x'.repeat(78)}\r\n`);
    c.write('.\r\n');
    assert.deepEqual(await c.readReply(), [
      '552 5.3.4 Error: message size exceeds fixed maximum message size',
    ]);
    // Exactly at the limit passes.
    await play(
      c,
      'C: MAIL FROM:<a@example.net>\nS: 250 *\nC: RCPT TO:<u@example.org>\nS: 250 *\nC: DATA\nS: 354 *',
    );
    c.write(`${'y'.repeat(998)}\r\n.\r\n`);
    assert.match((await c.readReply())[0]!, /^250 2\.0\.0/);
  } finally {
    c.close();
  }
  assert.equal(backend.messages.length, 1);
  assert.equal(backend.messages[0]!.data.length, 1000);
  assert.equal(backend.aborted, 1);
});

test('recipients limit: 452 4.5.3 past maxRecipients, the message goes to the accepted ones', async () => {
  const { port, backend } = await startServer({ limits: { maxRecipients: 3 } });
  await transcript(
    port,
    `
    S: 220 *
    C: HELO c.example
    S: 250 *
    C: MAIL FROM:<a@example.net>
    S: 250 *
    C: RCPT TO:<u1@example.org>
    C: RCPT TO:<u2@example.org>
    C: RCPT TO:<u3@example.org>
    C: RCPT TO:<u4@example.org>
    S: 250 *
    S: 250 *
    S: 250 *
    S: 452 4.5.3 Error: too many recipients
    C: DATA
    S: 354 *
    C: x
    C: .
    S: 250 *
    `,
  );
  assert.equal(backend.messages[0]!.rcpts.length, 3);
});

test('over-long text line and NUL: the message is refused after its end, the session goes on', async () => {
  const { port, backend } = await startServer();
  const c = await greet(port);
  const tx =
    'C: MAIL FROM:<a@example.net>\nS: 250 *\nC: RCPT TO:<u@example.org>\nS: 250 *\nC: DATA\nS: 354 *';
  try {
    await play(c, tx);
    c.write(`ok\r\n${'z'.repeat(999)}\r\nmore\r\n.\r\n`);
    assert.deepEqual(await c.readReply(), ['554 5.6.0 Error: line longer than 1000 octets']);
    await play(c, tx);
    c.write('a\0b\r\n.\r\n');
    assert.deepEqual(await c.readReply(), ['554 5.6.0 Error: NUL octet in message']);
    await play(c, tx);
    c.write(`${'z'.repeat(998)}\r\n.\r\n`);
    assert.match((await c.readReply())[0]!, /^250 2\.0\.0/);
  } finally {
    c.close();
  }
  assert.equal(backend.messages.length, 1);
  assert.equal(backend.aborted, 2);
});

test('backend data() failures: SmtpError reply as given; other errors 451 4.3.0 logged, never echoed', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const { port, backend } = await startServer({ logger: memoryLogger(lines) });
  const c = await greet(port);
  const tx =
    'C: MAIL FROM:<a@example.net>\nS: 250 *\nC: RCPT TO:<u@example.org>\nS: 250 *\nC: DATA\nS: 354 *';
  try {
    backend.onData = () => {
      throw new SmtpError(552, '5.2.2', 'Mailbox full', 'quota 10/10');
    };
    await play(c, `${tx}\nC: x\nC: .\nS: 552 5.2.2 Mailbox full`);
    backend.onData = () => {
      throw new Error('SQLITE_BUSY: secret internals');
    };
    await play(c, `${tx}\nC: x\nC: .\nS: 451 4.3.0 Error: internal error, try again later`);
    // Refusing before reading anything: the rest of the data is swallowed, then the reply.
    backend.onData = undefined;
    backend.beforeData = () => {
      throw new SmtpError(554, '5.7.1', 'Rejected by policy');
    };
    await play(c, tx);
    for (let i = 0; i < 2000; i++) c.write('some more data that nobody reads\r\n');
    c.write('.\r\nNOOP\r\n');
    assert.deepEqual(await c.readReply(), ['554 5.7.1 Rejected by policy']);
    assert.deepEqual(await c.readReply(), ['250 2.0.0 OK']);
  } finally {
    c.close();
  }
  assert.equal(backend.messages.length, 0);
  const failed = lines.find((l) => l.msg === 'data failed');
  assert.ok(failed, 'the internal error is logged');
  assert.equal(typeof failed.session, 'string');
  assert.ok(!c.log.join('\n').includes('SQLITE'));
});

test('backpressure: a slow backend pauses the socket; a 4 MB message arrives whole', async () => {
  const { port, backend } = await startServer();
  let maxBuffered = 0;
  backend.beforeData = async (body) => {
    await sleep(50);
    maxBuffered = Math.max(maxBuffered, body.readableLength);
  };
  const c = await greet(port);
  try {
    await play(
      c,
      'C: MAIL FROM:<a@example.net>\nS: 250 *\nC: RCPT TO:<u@example.org>\nS: 250 *\nC: DATA\nS: 354 *',
    );
    const line = `${'m'.repeat(998)}\r\n`;
    const block = Buffer.from(line.repeat(1024));
    let drained = 0;
    for (let i = 0; i < 4; i++) {
      if (!c.socket.write(block)) {
        drained++;
        await new Promise((r) => c.socket.once('drain', r));
      }
    }
    c.write('.\r\n');
    assert.match((await c.readReply(10_000))[0]!, /^250 2\.0\.0/);
    assert.ok(drained > 0, 'the client had to wait: the server did not slurp');
  } finally {
    c.close();
  }
  assert.equal(backend.messages[0]!.data.length, 4 * 1024 * 1000);
  assert.ok(maxBuffered <= 256 * 1024, `body buffer stayed small (${maxBuffered})`);
});
