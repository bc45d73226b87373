/** CHUNKING / BINARYMIME (RFC 3030) over real TCP. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineClient, play } from '../support/transcript.js';
import { startServer } from './harness.js';

async function ready(port: number): Promise<LineClient> {
  const c = await LineClient.connect(port);
  await c.readReply();
  c.send('EHLO c.example');
  const ehlo = await c.readReply();
  assert.ok(ehlo.includes('250-CHUNKING'));
  assert.ok(ehlo.includes('250-BINARYMIME'));
  return c;
}

test('BDAT with binary data in several chunks, BODY=BINARYMIME, RFC 3030 example flow', async () => {
  const { port, backend } = await startServer();
  const c = await ready(port);
  const binary = Buffer.alloc(70_000);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 7919) & 0xff; // every octet, CR, LF, NUL, "."
  try {
    await play(
      c,
      'C: MAIL FROM:<a@example.net> BODY=BINARYMIME\nS: 250 *\nC: RCPT TO:<u@example.org>\nS: 250 *',
    );
    c.write('DATA\r\n');
    assert.deepEqual(await c.readReply(), ['503 5.5.1 Error: BODY=BINARYMIME needs BDAT']);
    c.write(Buffer.concat([Buffer.from('BDAT 30000\r\n'), binary.subarray(0, 30000)]));
    assert.deepEqual(await c.readReply(), ['250 2.0.0 30000 octets received']);
    // The next chunk split mid-way across two writes, the last one with LAST.
    c.write(Buffer.concat([Buffer.from('BDAT 40000 LAST\r\n'), binary.subarray(30000, 50000)]));
    await new Promise((r) => setTimeout(r, 20));
    c.write(binary.subarray(50000));
    assert.deepEqual(await c.readReply(), ['250 2.0.0 OK m1']);
    c.send('DATA');
    assert.deepEqual(await c.readReply(), ['503 5.5.1 Error: need MAIL command']);
  } finally {
    c.close();
  }
  assert.deepEqual(backend.messages[0]!.data, binary);
  assert.equal(backend.messages[0]!.mailOptions.body, 'BINARYMIME');
});

test('BDAT pipelined with MAIL/RCPT in one write; BDAT 0 LAST ends the message', async () => {
  const { port, backend } = await startServer();
  const c = await ready(port);
  try {
    c.write(
      'MAIL FROM:<a@example.net>\r\nRCPT TO:<u@example.org>\r\nBDAT 5\r\nhelloBDAT 7\r\n, worldBDAT 0 LAST\r\nNOOP\r\n',
    );
    assert.match((await c.readReply())[0]!, /^250 2\.1\.0/);
    assert.match((await c.readReply())[0]!, /^250 2\.1\.5/);
    assert.deepEqual(await c.readReply(), ['250 2.0.0 5 octets received']);
    assert.deepEqual(await c.readReply(), ['250 2.0.0 7 octets received']);
    assert.deepEqual(await c.readReply(), ['250 2.0.0 OK m1']);
    assert.deepEqual(await c.readReply(), ['250 2.0.0 OK']);
  } finally {
    c.close();
  }
  assert.equal(backend.messages[0]!.data.toString(), 'hello, world');
});

test('BDAT refused (no MAIL, no RCPT, after DATA rules): its octets are still consumed, never run as commands', async () => {
  const { port, backend } = await startServer();
  const c = await ready(port);
  try {
    c.write('BDAT 24\r\nMAIL FROM:<evil@x.org>\r\n');
    assert.deepEqual(await c.readReply(), ['503 5.5.1 Error: need MAIL command']);
    c.write('MAIL FROM:<a@example.net>\r\nBDAT 6 LAST\r\nRSET\r\n');
    assert.match((await c.readReply())[0]!, /^250 2\.1\.0/);
    assert.deepEqual(await c.readReply(), ['554 5.5.1 Error: no valid recipients']);
    c.send('NOOP');
    assert.deepEqual(await c.readReply(), ['250 2.0.0 OK']);
  } finally {
    c.close();
  }
  assert.equal(backend.messages.length, 0);
});

test('BDAT: RSET between chunks aborts the body; RCPT after BDAT is refused; size limit 552', async () => {
  const { port, backend } = await startServer({ limits: { maxMessageSize: 100 } });
  const c = await ready(port);
  try {
    await play(
      c,
      `
      C: MAIL FROM:<a@example.net>
      S: 250 *
      C: RCPT TO:<u@example.org>
      S: 250 *
      C~ BDAT 3\\r\\nabc
      S: 250 2.0.0 3 octets received
      C: RCPT TO:<v@example.org>
      S: 503 5.5.1 Error: RCPT not allowed during BDAT
      C: RSET
      S: 250 2.0.0 OK
      C: MAIL FROM:<a@example.net>
      S: 250 *
      C: RCPT TO:<u@example.org>
      S: 250 *
      C~ BDAT 60\\r\\n${'x'.repeat(60)}
      S: 250 2.0.0 60 octets received
      C~ BDAT 60 LAST\\r\\n${'x'.repeat(60)}
      S: 552 5.3.4 Error: message size exceeds fixed maximum message size
      C~ BDAT 2 LAST\\r\\nzz
      S: 503 5.5.1 Error: need MAIL command
      C: NOOP
      S: 250 2.0.0 OK
      `,
    );
  } finally {
    c.close();
  }
  assert.equal(backend.messages.length, 0);
  assert.equal(backend.aborted, 2);
});
