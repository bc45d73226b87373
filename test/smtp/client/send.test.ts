/**
 * SmtpClient.send against scripted servers over real TCP: one transaction per call, per-recipient
 * results, PIPELINING (RFC 2920) vs one command at a time, SIZE/8BITMIME/SMTPUTF8 refusals made
 * before anything is sent, DSN parameters, DATA dot-stuffing and CRLF, BDAT, and failures in
 * the middle of the body.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { open, rejects, SHORT } from './client-setup.js';
import { fakeServer } from './fake-server.js';

const greet = (...caps: string[]) => {
  const lines = ['mx.test', ...caps];
  return `S: 220 mx.test ESMTP\nC: EHLO client.test\n${lines
    .map((l, i) => `S: 250${i === lines.length - 1 ? ' ' : '-'}${l}`)
    .join('\n')}\n`;
};

test('one command at a time without PIPELINING; dot-stuffing, bare LF → CRLF, final CRLF added', async () => {
  const fake = await fakeServer(`${greet('8BITMIME', 'SIZE 0')}
    C: MAIL FROM:<alice@example.org> SIZE=40
    S: 250 2.1.0 OK
    C: RCPT TO:<bob@example.net>
    S: 250 2.1.5 OK
    C: RCPT TO:<carol@example.net>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 End data with <CR><LF>.<CR><LF>
    C: <data>
    S: 250 2.0.0 Queued as X1
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const body = 'Subject: t\n\n.leading dot\r\n..two\nlast line without newline';
  const r = await c.send(
    {
      from: 'alice@example.org',
      recipients: ['bob@example.net', { address: 'carol@example.net' }],
      size: 40,
    },
    Buffer.from(body),
  );
  await c.quit();
  const [conv] = await fake.settled();
  assert.deepEqual(conv!.errors, []);
  assert.equal(
    conv!.bodies[0]!.toString('latin1'),
    'Subject: t\r\n\r\n..leading dot\r\n...two\r\nlast line without newline\r\n.\r\n',
  );
  assert.equal(r.pipelined, false);
  assert.equal(r.ok, true);
  assert.deepEqual(r.delivered, ['bob@example.net', 'carol@example.net']);
  assert.deepEqual(r.data, { code: 250, enhanced: '2.0.0', text: 'Queued as X1' });
  // Octets count the canonical message, before stuffing: 3 bare LFs became CRLF, a CRLF was added.
  assert.equal(r.octets, Buffer.byteLength(body) + 3 + 2);
});

test('PIPELINING: MAIL, every RCPT and DATA in one group; replies matched in order, per recipient', async () => {
  // The script reads all four commands before answering any: a client that waited would time out.
  const fake = await fakeServer(`${greet('PIPELINING', 'ENHANCEDSTATUSCODES')}
    C: MAIL FROM:<>
    C: RCPT TO:<ok@example.net>
    C: RCPT TO:<full@example.net>
    C: RCPT TO:<gone@example.net>
    C: DATA
    S: 250 2.1.0 Sender OK
    S: 250 2.1.5 Recipient OK
    S: 452-4.2.2 Mailbox full,
    S: 452 4.2.2 try again later
    S: 550 5.1.1 No such user
    S: 354 Go ahead
    C: <data>
    S: 250 2.0.0 OK id=7
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const r = await c.send(
    { from: '', recipients: ['ok@example.net', 'full@example.net', 'gone@example.net'] },
    'Subject: x\r\n\r\nhi\r\n',
  );
  await c.quit();
  const [conv] = await fake.settled();
  assert.deepEqual(conv!.errors, []);
  assert.equal(r.pipelined, true);
  assert.deepEqual(
    r.recipients.map(({ address, code, enhanced, text, accepted }) => ({
      address,
      code,
      enhanced,
      text,
      accepted,
    })),
    [
      { address: 'ok@example.net', code: 250, enhanced: '2.1.5', text: 'Recipient OK', accepted: true },
      {
        address: 'full@example.net',
        code: 452,
        enhanced: '4.2.2',
        text: 'Mailbox full, try again later',
        accepted: false,
      },
      { address: 'gone@example.net', code: 550, enhanced: '5.1.1', text: 'No such user', accepted: false },
    ],
  );
  assert.deepEqual(r.delivered, ['ok@example.net']);
  assert.equal(conv!.bodies[0]!.toString(), 'Subject: x\r\n\r\nhi\r\n.\r\n');
});

test('PIPELINING, every recipient refused: DATA refused by the server, RSET, nothing sent', async () => {
  const fake = await fakeServer(`${greet('PIPELINING')}
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<x@example.net>
    C: DATA
    S: 250 OK
    S: 550 5.1.1 unknown
    S: 554 5.5.1 No valid recipients
    C: RSET
    S: 250 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const r = await c.send({ from: 'a@example.org', recipients: ['x@example.net'] }, 'body\r\n');
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
  assert.equal(r.ok, false);
  assert.equal(r.data, undefined);
  assert.equal(r.recipients[0]!.code, 550);
});

test('PIPELINING, a server that answers 354 with no recipient: an empty message ends it (RFC 2920 §3.1)', async () => {
  const fake = await fakeServer(`${greet('PIPELINING')}
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<x@example.net>
    C: DATA
    S: 250 OK
    S: 550 unknown
    S: 354 go
    C: .
    S: 554 no recipients
    C: RSET
    S: 250 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const r = await c.send({ from: 'a@example.org', recipients: ['x@example.net'] }, 'body\r\n');
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
  assert.deepEqual(r.delivered, []);
});

test('MAIL refused: rejects with the reply (pipelined: all replies read first), the client stays usable', async () => {
  const fake = await fakeServer(`${greet('PIPELINING')}
    C: MAIL FROM:<blocked@example.org>
    C: RCPT TO:<x@example.net>
    C: DATA
    S: 550 5.7.1 Sender refused
    S: 503 5.5.1 need MAIL
    S: 503 5.5.1 need MAIL
    C: NOOP
    S: 250 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const err = await rejects(c.send({ from: 'blocked@example.org', recipients: ['x@example.net'] }, 'b\r\n'));
  assert.equal(err.stage, 'mail');
  assert.equal(err.permanent, true);
  assert.deepEqual(err.reply, { code: 550, enhanced: '5.7.1', text: 'Sender refused' });
  await c.noop();
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('without PIPELINING: all recipients refused → no DATA, RSET; DATA refused and a 4xx final reply reported', async () => {
  const fake = await fakeServer(`${greet('8BITMIME')}
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<x@example.net>
    S: 550 no
    C: RSET
    S: 250 OK
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<y@example.net>
    S: 250 OK
    C: DATA
    S: 554 5.3.0 DATA refused
    C: RSET
    S: 250 OK
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<y@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    C: <data>
    S: 451 4.3.0 Try later
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const r1 = await c.send({ from: 'a@example.org', recipients: ['x@example.net'] }, 'b\r\n');
  assert.equal(r1.data, undefined);
  assert.equal(r1.ok, false);
  const r2 = await c.send({ from: 'a@example.org', recipients: ['y@example.net'] }, 'b\r\n');
  assert.equal(r2.data?.code, 554);
  assert.equal(r2.ok, false);
  const r3 = await c.send({ from: 'a@example.org', recipients: ['y@example.net'] }, 'b\r\n');
  assert.equal(r3.data?.code, 451);
  assert.deepEqual(r3.delivered, []);
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('SIZE: a message over the server limit is refused before MAIL; SIZE= declared otherwise', async () => {
  const fake = await fakeServer(`${greet('SIZE 1000')}
    C: MAIL FROM:<a@example.org> SIZE=900
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    C: <data>
    S: 250 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const err = await rejects(
    c.send({ from: 'a@example.org', recipients: ['b@example.net'], size: 2000 }, 'x'),
  );
  assert.equal(err.code, 'size');
  assert.equal(err.limit, 1000);
  assert.equal(err.permanent, true);
  // Without a declared size, an in-memory body's length is used.
  const err2 = await rejects(
    c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, Buffer.alloc(1001, 0x61)),
  );
  assert.equal(err2.code, 'size');
  const r = await c.send({ from: 'a@example.org', recipients: ['b@example.net'], size: 900 }, 'x\r\n');
  assert.equal(r.ok, true);
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('8-bit body without 8BITMIME → needs7bit; SMTPUTF8 needed and missing → smtputf8; nothing sent', async () => {
  const fake = await fakeServer(`${greet('SIZE')}
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const e1 = await rejects(
    c.send(
      { from: 'a@example.org', recipients: ['b@example.net'], body8bit: true },
      Buffer.from('한국어\r\n'),
    ),
  );
  assert.equal(e1.code, 'needs7bit');
  // An in-memory body is checked even when the caller did not say it is 8-bit.
  const e1b = await rejects(
    c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, Buffer.from('é\r\n')),
  );
  assert.equal(e1b.code, 'needs7bit');
  const e2 = await rejects(c.send({ from: 'a@example.org', recipients: ['용@example.net'] }, 'x\r\n'));
  assert.equal(e2.code, 'smtputf8');
  assert.equal(e2.permanent, true);
  const e3 = await rejects(
    c.send({ from: 'a@example.org', recipients: ['b@example.net'], smtputf8: true }, 'x\r\n'),
  );
  assert.equal(e3.code, 'smtputf8');
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('8BITMIME and SMTPUTF8 offered: BODY=8BITMIME SMTPUTF8 and the UTF-8 octets pass untouched', async () => {
  const fake = await fakeServer(`${greet('8BITMIME', 'SMTPUTF8')}
    C: MAIL FROM:<김@example.org> BODY=8BITMIME SMTPUTF8
    S: 250 OK
    C: RCPT TO:<용@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    C: <data>
    S: 250 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const body = Buffer.from('Subject: 안녕하세요\r\n\r\n한국어 본문\r\n', 'utf8');
  const r = await c.send({ from: '김@example.org', recipients: ['용@example.net'], body8bit: true }, body);
  assert.equal(r.ok, true);
  await c.quit();
  const [conv] = await fake.settled();
  assert.deepEqual(conv!.errors, []);
  assert.deepEqual(conv!.bodies[0], Buffer.concat([body, Buffer.from('.\r\n')]));
});

test('DSN parameters (RFC 3461) are sent when DSN is offered, xtext-encoded, and left out when not', async () => {
  const envelope = {
    from: 'a@example.org',
    recipients: [
      {
        address: 'b@example.net',
        notify: ['SUCCESS', 'FAILURE'] as Array<'SUCCESS' | 'FAILURE'>,
        orcpt: 'b+x=y@example.net',
      },
    ],
    ret: 'HDRS' as const,
    envid: 'Q1 id=5',
  };
  const fake = await fakeServer([
    `${greet('DSN')}
    C: MAIL FROM:<a@example.org> RET=HDRS ENVID=Q1+20id+3D5
    S: 250 OK
    C: RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx+3Dy@example.net
    S: 250 OK
    C: DATA
    S: 354 go
    C: <data>
    S: 250 OK
    C: QUIT
    S: 221 bye`,
    `${greet('8BITMIME')}
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    C: <data>
    S: 250 OK
    C: QUIT
    S: 221 bye`,
  ]);
  for (let i = 0; i < 2; i++) {
    const c = await open(fake.port);
    assert.equal((await c.send(envelope, 'x\r\n')).ok, true);
    await c.quit();
  }
  assert.deepEqual(
    (await fake.settled(2)).flatMap((c) => c.errors),
    [],
  );
});

test('CR/LF/NUL or bad syntax in addresses and parameters: refused, nothing injected', async () => {
  const fake = await fakeServer(`${greet('DSN', 'PIPELINING')}
    C: NOOP
    S: 250 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const bad = [
    { from: 'a@example.org>\r\nRCPT TO:<evil@example.net', recipients: ['b@example.net'] },
    { from: 'a@example.org', recipients: ['b@example.net>\nDATA'] },
    { from: 'a@example.org', recipients: ['b@exa\0mple.net'] },
    { from: 'a@example.org', recipients: ['b@example.net'], envid: 'x\r\nRSET' },
    { from: 'a@example.org', recipients: [{ address: 'b@example.net', orcpt: 'c@example.net\r\nQUIT' }] },
    {
      from: 'a@example.org',
      recipients: [{ address: 'b@example.net', notify: ['NEVER', 'SUCCESS'] as Array<'NEVER' | 'SUCCESS'> }],
    },
    { from: 'no-at-sign', recipients: ['b@example.net'] },
    { from: 'a@example.org', recipients: [] },
  ];
  for (const env of bad) {
    const err = await rejects(c.send(env, 'x\r\n'));
    assert.equal(err.code, 'invalid', err.message);
    assert.equal(err.permanent, true);
  }
  await c.noop();
  await c.quit();
  const [conv] = await fake.settled();
  assert.deepEqual(conv!.errors, []);
  assert.deepEqual(conv!.lines, ['EHLO client.test', 'NOOP', 'QUIT']);
});

test('CHUNKING: BDAT LAST carries the canonical bytes, no dot-stuffing (RFC 3030)', async () => {
  const fake = await fakeServer(`${greet('CHUNKING', 'PIPELINING', '8BITMIME')}
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.net>
    S: 250 OK
    S: 250 OK
    C: BDAT 22 LAST
    S: 250 2.0.0 OK chunked
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const r = await c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, 'S: x\n\n.dot\n.\nend');
  await c.quit();
  const [conv] = await fake.settled();
  assert.deepEqual(conv!.errors, []);
  assert.equal(r.chunked, true);
  assert.equal(r.ok, true);
  assert.equal(conv!.bodies[0]!.toString(), 'S: x\r\n\r\n.dot\r\n.\r\nend\r\n');
});

test('CHUNKING: a refused chunk ends the transfer; the client resets', async () => {
  const fake = await fakeServer(`${greet('CHUNKING')}
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: 250 OK
    C: BDAT 1048576
    S: 552 5.3.4 Too big
    C: RSET
    S: 250 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port);
  const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
  const r = await c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, big);
  assert.equal(r.ok, false);
  assert.equal(r.data?.code, 552);
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('chunking: false uses DATA even when CHUNKING is offered', async () => {
  const fake = await fakeServer(`${greet('CHUNKING')}
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    C: <data>
    S: 250 OK
    C: QUIT
    S: 221 bye`);
  const c = await open(fake.port, { chunking: false });
  assert.equal((await c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, 'x')).chunked, false);
  await c.quit();
  assert.deepEqual((await fake.settled())[0]!.errors, []);
});

test('server closes mid-DATA: a temporary network error; the client is dead', async () => {
  const fake = await fakeServer(`${greet()}
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    S: <close>`);
  const c = await open(fake.port);
  const source = Readable.from(
    (async function* () {
      for (let i = 0; i < 200; i++) {
        yield Buffer.alloc(64 * 1024, 0x62);
        await new Promise((r) => setImmediate(r));
      }
    })(),
  );
  const err = await rejects(c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, source));
  assert.equal(err.temporary, true);
  assert.ok(err.code === 'network', err.message);
  assert.equal(c.usable, false);
  assert.ok(source.destroyed, 'the abandoned source is released');
});

test('timeouts in a transaction: RCPT and the DATA termination (§4.5.3.2.3, §4.5.3.2.6)', async () => {
  const fake = await fakeServer([
    `${greet()}
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: <silence>`,
    `${greet()}
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    C: <data>
    S: <silence>`,
  ]);
  const env = { from: 'a@example.org', recipients: ['b@example.net'] };
  const c1 = await open(fake.port, { timeouts: { ...SHORT, rcpt: 100 } });
  const e1 = await rejects(c1.send(env, 'x\r\n'));
  assert.deepEqual([e1.code, e1.stage, e1.temporary], ['timeout', 'rcpt', true]);
  const c2 = await open(fake.port, { timeouts: { ...SHORT, dataTermination: 100 } });
  const e2 = await rejects(c2.send(env, 'x\r\n'));
  assert.deepEqual([e2.code, e2.stage, e2.temporary], ['timeout', 'data', true]);
  assert.equal(c2.usable, false);
});

test('a body source that fails mid-DATA: the connection is dropped, the terminator never sent', async () => {
  const fake = await fakeServer(`${greet()}
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    C: <data>
    S: 250 OK`);
  const c = await open(fake.port);
  const source = Readable.from(
    (async function* () {
      yield Buffer.from('Subject: half\r\n\r\nfirst part\r\n');
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('disk read failed');
    })(),
  );
  const err = await rejects(c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, source));
  assert.equal(err.code, 'body');
  assert.equal(c.usable, false);
  const [conv] = await fake.settled();
  assert.deepEqual(conv!.errors, ['connection closed inside DATA']);
});

test('a server that stops reading mid-DATA: the data-block timeout fires (§4.5.3.2.5)', async () => {
  const fake = await fakeServer(`${greet()}
    C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    S: <stall>`);
  const c = await open(fake.port, { timeouts: { ...SHORT, dataBlock: 300 } });
  const big = Readable.from(
    (async function* () {
      for (let i = 0; i < 1024; i++) yield Buffer.alloc(64 * 1024, 0x63); // 64 MiB, more than any socket buffer
    })(),
  );
  const err = await rejects(c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, big));
  assert.deepEqual([err.code, err.stage, err.temporary], ['timeout', 'body', true]);
  assert.equal(c.usable, false);
});

test('421 at any point ends the session: a temporary error with the reply, the connection closed', async () => {
  const fake = await fakeServer(`${greet('PIPELINING')}
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.net>
    C: DATA
    S: 250 OK
    S: 421 4.3.2 System shutting down
    S: <close>`);
  const c = await open(fake.port);
  const err = await rejects(c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, 'x\r\n'));
  assert.deepEqual([err.code, err.stage, err.temporary, err.reply?.code], ['reply', 'rcpt', true, 421]);
  assert.equal(c.usable, false);
});
