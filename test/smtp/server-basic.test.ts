import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineClient, play, transcript } from '../support/transcript.js';
import { startServer } from './harness.js';

test('the textbook session: HELO, MAIL, RCPT, DATA with headers, QUIT', async () => {
  const { port, backend } = await startServer({ hostname: 'mail.uu.ac.kr' }, { localDomains: ['uu.ac.kr'] });
  await transcript(
    port,
    `
    S: 220 mail.uu.ac.kr ESMTP Posthorn
    C: HELO crepes.fr
    S: 250 mail.uu.ac.kr greets crepes.fr
    C: MAIL FROM:<alice@crepes.fr>
    S: 250 2.1.0 Sender <alice@crepes.fr> OK
    C: RCPT TO:<kihyun@uu.ac.kr>
    S: 250 2.1.5 Recipient <kihyun@uu.ac.kr> OK
    C: DATA
    S: 354 End data with <CR><LF>.<CR><LF>
    C: From: alice@crepes.fr
    C: To: kihyun@uu.ac.kr
    C: Date: Thu, 26 Nov 2026 10:00:00 +0900
    C:
    C: Do you like ketchup?
    C: How about pickles?
    C: .
    S: 250 2.0.0 OK m1
    C: QUIT
    S: 221 2.0.0 mail.uu.ac.kr Bye
    S: <closed>
    `,
  );
  assert.equal(backend.messages.length, 1);
  const m = backend.messages[0]!;
  assert.equal(m.from, 'alice@crepes.fr');
  assert.deepEqual(
    m.rcpts.map((r) => r.to),
    ['kihyun@uu.ac.kr'],
  );
  assert.equal(
    m.data.toString('latin1'),
    'From: alice@crepes.fr\r\nTo: kihyun@uu.ac.kr\r\nDate: Thu, 26 Nov 2026 10:00:00 +0900\r\n\r\nDo you like ketchup?\r\nHow about pickles?\r\n',
  );
  assert.equal(m.conn.helo, 'crepes.fr');
  assert.equal(m.conn.esmtp, false);
});

test('EHLO advertises the extensions; every simple command answers with an enhanced code', async () => {
  const { port } = await startServer();
  await transcript(
    port,
    `
    S: 220 mx.example.org ESMTP Posthorn
    C: EHLO client.example
    S: 250-mx.example.org greets client.example
    S: 250-PIPELINING
    S: 250-SIZE 26214400
    S: 250-8BITMIME
    S: 250-SMTPUTF8
    S: 250-ENHANCEDSTATUSCODES
    S: 250-CHUNKING
    S: 250-BINARYMIME
    S: 250-DSN
    S: 250 HELP
    C: NOOP
    S: 250 2.0.0 OK
    C: noop with argument
    S: 250 2.0.0 OK
    C: HELP
    S: 214-2.0.0 Commands: *
    S: 214 2.0.0 See RFC 5321
    C: VRFY postmaster
    S: 252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery
    C: EXPN staff
    S: 502 5.5.1 EXPN not supported
    C: RSET
    S: 250 2.0.0 OK
    C: STARTTLS
    S: 502 5.5.1 Error: STARTTLS not available
    C: AUTH PLAIN
    S: 502 5.5.1 Error: AUTH not available
    C: XYZZY
    S: 500 5.5.2 Error: command not recognized
    C: quit
    S: 221 2.0.0 mx.example.org Bye
    S: <closed>
    `,
  );
});

test('sequencing errors: 503 5.5.1 for MAIL before HELO, RCPT before MAIL, DATA before RCPT, nested MAIL', async () => {
  const { port } = await startServer();
  await transcript(
    port,
    `
    S: 220 *
    C: MAIL FROM:<a@example.net>
    S: 503 5.5.1 Error: send HELO/EHLO first
    C: EHLO c.example
    S: 250-*
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S: 250 HELP
    C: RCPT TO:<u@example.org>
    S: 503 5.5.1 Error: need MAIL command
    C: DATA
    S: 503 5.5.1 Error: need MAIL command
    C: MAIL FROM:<a@example.net>
    S: 250 2.1.0 *
    C: MAIL FROM:<a@example.net>
    S: 503 5.5.1 Error: nested MAIL command
    C: DATA
    S: 554 5.5.1 Error: no valid recipients
    C: RSET
    S: 250 2.0.0 OK
    C: RCPT TO:<u@example.org>
    S: 503 5.5.1 Error: need MAIL command
    `,
  );
});

test('syntax: 501 for bad arguments, 553 for bad addresses, 555 for unknown parameters', async () => {
  const { port } = await startServer();
  await transcript(
    port,
    `
    S: 220 *
    C: HELO
    S: 501 5.5.4 HELO requires a domain or address literal
    C: HELO c.example
    S: 250 mx.example.org greets c.example
    C: MAIL FROM:a@example.net
    S: 501 5.5.4 Syntax: MAIL FROM:<address>
    C: MAIL FROM:<a@example.net> SIZE=100
    S: 555 5.5.4 ESMTP parameters need EHLO
    C: EHLO c.example
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S: 250 HELP
    C: MAIL FROM:<not an address>
    S: 553 5.1.7 Invalid address: *
    C: MAIL FROM:<a@example.net> FOO=BAR
    S: 555 5.5.4 Unsupported parameter FOO
    C: MAIL FROM:<a@example.net> SIZE=abc
    S: 501 5.5.4 SIZE needs a number
    C: MAIL FROM: <a@example.net> SIZE=100 BODY=8BITMIME
    S: 250 2.1.0 Sender <a@example.net> OK
    C: RCPT TO:<bad@@example.org>
    S: 553 5.1.3 Invalid address: *
    C: RCPT TO:<u@example.org> NOTIFY=SOMETIMES
    S: 501 5.5.4 NOTIFY must be *
    C: RCPT TO:<u@example.org> XFOO=1
    S: 555 5.5.4 Unsupported parameter XFOO
    `,
  );
});

test('command lines: bare LF is refused and not executed; over 512 octets → 500 5.5.2', async () => {
  const { port, backend } = await startServer();
  await transcript(
    port,
    `
    S: 220 *
    C~ EHLO c.example\\n
    S: 500 5.5.2 Line must end with CRLF, not a bare LF
    C: HELO c.example
    S: 250 *
    C~ MAIL FROM:<a@example.net>\\nRCPT TO:<u@example.org>\\r\\n
    S: 500 5.5.2 Line must end with CRLF, not a bare LF
    S: 503 5.5.1 Error: need MAIL command
    C: NOOP ${'x'.repeat(505)}
    S: 250 2.0.0 OK
    C: NOOP ${'x'.repeat(506)}
    S: 500 5.5.2 Line too long
    C: NOOP ${'x'.repeat(20000)}
    S: 500 5.5.2 Line too long
    C: NOOP
    S: 250 2.0.0 OK
    `,
  );
  assert.equal(backend.messages.length, 0);
});

test('policy from the backend: 550 5.1.1 unknown user, 554 5.7.1 relay; MAIL refusal; Postmaster', async () => {
  const { port } = await startServer({}, { users: ['kim@example.org'] });
  await transcript(
    port,
    `
    S: 220 *
    C: HELO c.example
    S: 250 *
    C: MAIL FROM:<blocked@example.net>
    S: 550 5.7.1 Sender refused
    C: MAIL FROM:<a@example.net>
    S: 250 2.1.0 *
    C: RCPT TO:<nobody@example.org>
    S: 550 5.1.1 No such user here
    C: RCPT TO:<someone@elsewhere.example>
    S: 554 5.7.1 Relay access denied
    C: RCPT TO:<KIM@example.org>
    S: 250 2.1.5 Recipient <KIM@example.org> OK
    C: RCPT TO:<postmaster>
    S: 250 2.1.5 Recipient <postmaster> OK
    `,
  );
});

test('SMTPUTF8: non-ASCII paths need MAIL … SMTPUTF8 (553 5.6.7 otherwise)', async () => {
  const { port, backend } = await startServer({}, { localDomains: ['例子.广告'] });
  const c = await import('../support/transcript.js').then((m) => m.LineClient.connect(port));
  try {
    await c.readReply();
    c.send('EHLO c.example');
    await c.readReply();
    c.write(Buffer.from('MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή>\r\n', 'utf8'));
    assert.deepEqual(await c.readReply(), ['553 5.6.7 Non-ASCII address needs SMTPUTF8']);
    c.write(Buffer.from('MAIL FROM:<a@example.net>\r\nRCPT TO:<用户@例子.广告>\r\nRSET\r\n', 'utf8'));
    assert.match((await c.readReply())[0]!, /^250 2\.1\.0/);
    assert.deepEqual(await c.readReply(), ['553 5.6.7 Non-ASCII address needs SMTPUTF8']);
    assert.deepEqual(await c.readReply(), ['250 2.0.0 OK']);
    c.write(
      Buffer.from(
        'MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8\r\nRCPT TO:<用户@例子.广告>\r\nDATA\r\n',
        'utf8',
      ),
    );
    assert.match((await c.readReply())[0]!, /^250 2\.1\.0/);
    assert.match((await c.readReply())[0]!, /^250 2\.1\.5/);
    assert.match((await c.readReply())[0]!, /^354/);
    c.write(Buffer.from('Subject: 你好\r\n\r\nhi\r\n.\r\n', 'utf8'));
    assert.match((await c.readReply())[0]!, /^250 2\.0\.0/);
  } finally {
    c.close();
  }
  const m = backend.messages[0]!;
  assert.equal(m.from, 'δοκιμή@παράδειγμα.δοκιμή');
  assert.equal(m.rcpts[0]!.to, '用户@例子.广告');
  assert.equal(m.mailOptions.smtputf8, true);
  assert.equal(m.data.toString('utf8'), 'Subject: 你好\r\n\r\nhi\r\n');
});

test('DSN and other ESMTP parameters reach the backend typed and raw', async () => {
  const { port, backend } = await startServer();
  await transcript(
    port,
    `
    S: 220 *
    C: EHLO c.example
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S~ ^250-
    S: 250 HELP
    C: MAIL FROM:<a@example.net> RET=HDRS ENVID=QQ314159 SIZE=40 BODY=8BITMIME
    S: 250 2.1.0 *
    C: RCPT TO:<u@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;U+40example.org
    S: 250 2.1.5 *
    C: DATA
    S: 354 *
    C: Subject: dsn
    C:
    C: body
    C: .
    S: 250 2.0.0 OK m1
    `,
  );
  const m = backend.messages[0]!;
  assert.equal(m.mailOptions.ret, 'HDRS');
  assert.equal(m.mailOptions.envid, 'QQ314159');
  assert.equal(m.mailOptions.size, 40);
  assert.equal(m.mailOptions.body, '8BITMIME');
  assert.deepEqual(m.mailOptions.raw, { RET: 'HDRS', ENVID: 'QQ314159', SIZE: '40', BODY: '8BITMIME' });
  assert.deepEqual(m.rcpts[0]!.opts.notify, ['SUCCESS', 'FAILURE']);
  assert.deepEqual(m.rcpts[0]!.opts.orcpt, { type: 'rfc822', address: 'U@example.org' });
  assert.equal(m.conn.esmtp, true);
  assert.equal(m.conn.helo, 'c.example');
});

test('a second EHLO resets the transaction; two messages on one connection', async () => {
  const { port, backend } = await startServer();
  await transcript(
    port,
    `
    S: 220 *
    C: HELO c.example
    S: 250 *
    C: MAIL FROM:<a@example.net>
    S: 250 *
    C: HELO c.example
    S: 250 *
    C: RCPT TO:<u@example.org>
    S: 503 5.5.1 Error: need MAIL command
    C: MAIL FROM:<a@example.net>
    S: 250 *
    C: RCPT TO:<u@example.org>
    S: 250 *
    C: DATA
    S: 354 *
    C: one
    C: .
    S: 250 2.0.0 OK m1
    C: MAIL FROM:<>
    S: 250 2.1.0 Sender <> OK
    C: RCPT TO:<v@example.org>
    S: 250 *
    C: DATA
    S: 354 *
    C: two
    C: .
    S: 250 2.0.0 OK m2
    `,
  );
  assert.deepEqual(
    backend.messages.map((m) => [m.from, m.data.toString()]),
    [
      ['a@example.net', 'one\r\n'],
      ['', 'two\r\n'],
    ],
  );
  assert.ok(backend.resets >= 2);
});

test('backend refusing the session at the greeting; logout after every session', async () => {
  const { port, backend } = await startServer();
  await transcript(port, 'S: 220 *\nC: QUIT\nS: 221 *\nS: <closed>');
  const { SmtpError } = await import('../../src/smtp/index.js');
  backend.refuseSession = new SmtpError(554, '5.7.1', 'No SMTP service here');
  await transcript(port, 'S: 554 5.7.1 No SMTP service here\nS: <closed>');
  const { eventually } = await import('./harness.js');
  await eventually(() => backend.loggedOut === 1);
  assert.equal(backend.sessions, 1);
});

test('VRFY answered by the backend when it implements vrfy', async () => {
  const { port } = await startServer({}, { users: ['kim@example.org'], vrfy: true });
  await transcript(
    port,
    `
    S: 220 *
    C: HELO c.example
    S: 250 *
    C: VRFY <kim@example.org>
    S: 250 2.1.5 <kim@example.org>
    C: vrfy lee@example.org
    S: 550 5.1.1 No such user
    `,
  );
});

test('commands sent before the greeting are answered after it, in order', async () => {
  const { port } = await startServer();
  const c = await LineClient.connect(port);
  try {
    c.write('HELO early.example\r\nNOOP\r\n');
    await play(c, 'S: 220 *\nS: 250 mx.example.org greets early.example\nS: 250 2.0.0 OK');
  } finally {
    c.close();
  }
});

test('QUIT closes at once; input pipelined after QUIT still gets its 221 before the close', async () => {
  const { port, server } = await startServer({ hostname: 'mail.uu.ac.kr' });
  // Nothing after QUIT: 221, then the server closes its end without waiting for the client's
  // (this client keeps its own half open and never closes it).
  const { connect } = await import('node:net');
  const half = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const got: Buffer[] = [];
  half.on('data', (d: Buffer) => got.push(d));
  const ended = new Promise((r) => half.once('end', r));
  half.write('EHLO a.example\r\nQUIT\r\n');
  await ended;
  assert.match(Buffer.concat(got).toString(), /\r\n221 2\.0\.0 mail\.uu\.ac\.kr Bye\r\n$/);
  const { eventually } = await import('./harness.js');
  await eventually(() => server.connectionCount === 0);
  half.destroy();
  // Commands after QUIT in the same write: they are not executed, the 221 still arrives whole.
  await transcript(
    port,
    `
    S: 220 *
    C: EHLO a.example
    S* 250 *
    C: QUIT
    C: MAIL FROM:<a@a.example>
    C: NOOP
    S: 221 2.0.0 mail.uu.ac.kr Bye
    S: <closed>
    `,
  );
});
