import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatCommand,
  formatEhloReply,
  formatReply,
  mailOptions,
  parseCommand,
  parseEhloReply,
  parsePath,
  parseReply,
  ReplyParser,
  rcptOptions,
  SmtpError,
} from '../../src/smtp/index.js';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SmtpError, String(err));
    return `${err.reply.code} ${err.reply.enhanced}`;
  }
  assert.fail('expected a SmtpError');
}

test('parseCommand: verbs are case-insensitive and typed', () => {
  assert.deepEqual(parseCommand('ehlo client.example'), { verb: 'EHLO', domain: 'client.example' });
  assert.deepEqual(parseCommand(Buffer.from('HeLo [192.0.2.1]')), { verb: 'HELO', domain: '[192.0.2.1]' });
  assert.deepEqual(parseCommand('data'), { verb: 'DATA' });
  assert.deepEqual(parseCommand('RSET'), { verb: 'RSET' });
  assert.deepEqual(parseCommand('QUIT'), { verb: 'QUIT' });
  assert.deepEqual(parseCommand('StartTLS'), { verb: 'STARTTLS' });
  assert.deepEqual(parseCommand('NOOP'), { verb: 'NOOP', arg: '' });
  assert.deepEqual(parseCommand('HELP mail'), { verb: 'HELP', arg: 'mail' });
  assert.deepEqual(parseCommand('VRFY Smith'), { verb: 'VRFY', arg: 'Smith' });
  assert.deepEqual(parseCommand('EXPN Example-People'), { verb: 'EXPN', arg: 'Example-People' });
  assert.deepEqual(parseCommand('BDAT 86 LAST'), { verb: 'BDAT', size: 86, last: true });
  assert.deepEqual(parseCommand('bdat 0 last'), { verb: 'BDAT', size: 0, last: true });
  assert.deepEqual(parseCommand('BDAT 100000'), { verb: 'BDAT', size: 100000, last: false });
  assert.deepEqual(parseCommand('AUTH plain dGVzdAB0ZXN0AHRlc3Q='), {
    verb: 'AUTH',
    mechanism: 'PLAIN',
    initialResponse: 'dGVzdAB0ZXN0AHRlc3Q=',
  });
  assert.deepEqual(parseCommand('AUTH LOGIN'), { verb: 'AUTH', mechanism: 'LOGIN' });
  assert.deepEqual(parseCommand('XYZZY foo'), { verb: 'UNKNOWN', name: 'XYZZY' });
});

test('parseCommand: MAIL/RCPT paths and parameters (RFC 5321 §4.1.2, Appendix D)', () => {
  assert.deepEqual(parseCommand('MAIL FROM:<Smith@bar.com>'), {
    verb: 'MAIL',
    path: { address: 'Smith@bar.com', utf8: false },
    params: {},
  });
  assert.deepEqual(parseCommand('MAIL FROM:<>'), {
    verb: 'MAIL',
    path: { address: '', utf8: false },
    params: {},
  });
  // A space after the colon, as real clients send.
  assert.deepEqual(parseCommand('mail from: <a@b.c> size=100 body=8bitmime'), {
    verb: 'MAIL',
    path: { address: 'a@b.c', utf8: false },
    params: { SIZE: '100', BODY: '8bitmime' },
  });
  assert.deepEqual(parseCommand('RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>'), {
    verb: 'RCPT',
    path: { address: 'userc@d.bar.org', utf8: false },
    params: {},
  });
  assert.deepEqual(parseCommand('RCPT TO:<Postmaster>'), {
    verb: 'RCPT',
    path: { address: 'Postmaster', utf8: false },
    params: {},
  });
  assert.deepEqual(parseCommand('RCPT TO:<"john doe"@example.org> NOTIFY=SUCCESS,FAILURE'), {
    verb: 'RCPT',
    path: { address: '"john doe"@example.org', utf8: false },
    params: { NOTIFY: 'SUCCESS,FAILURE' },
  });
  assert.deepEqual(parseCommand('RCPT TO:<user@[192.0.2.1]>').verb, 'RCPT');
  assert.deepEqual(parseCommand('RCPT TO:<user@[IPv6:2001:db8::1]>').verb, 'RCPT');
  assert.deepEqual(parseCommand(Buffer.from('RCPT TO:<用户@例子.广告>')), {
    verb: 'RCPT',
    path: { address: '用户@例子.广告', utf8: true },
    params: {},
  });
});

test('parseCommand: syntax errors carry their reply', () => {
  assert.equal(
    refusal(() => parseCommand('HELO')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('MAIL TO:<a@b.c>')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('MAIL FROM:a@b.c')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('MAIL FROM:<a@b.c')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('MAIL FROM:<a@b.c>SIZE=1')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('MAIL FROM:<no-at-sign>')),
    '553 5.1.7',
  );
  assert.equal(
    refusal(() => parseCommand('RCPT TO:<a@-bad-.com>')),
    '553 5.1.3',
  );
  assert.equal(
    refusal(() => parseCommand('RCPT TO:<a..b@c.d>')),
    '553 5.1.3',
  );
  assert.equal(
    refusal(() => parseCommand('RCPT TO:<>')),
    '553 5.1.3',
  );
  assert.equal(
    refusal(() => parseCommand(`RCPT TO:<${'a'.repeat(65)}@b.c>`)),
    '553 5.1.3',
  );
  assert.equal(
    refusal(() => parseCommand('MAIL FROM:<a@b.c> SIZE=1 SIZE=2')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('MAIL FROM:<a@b.c> =x')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('DATA now')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('BDAT x')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('BDAT 10 FIRST')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('VRFY')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand('AUTH')),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseCommand(Buffer.from([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0xff]))),
    '500 5.5.2',
  );
  assert.equal(
    refusal(() => parseCommand('NOOP \0')),
    '500 5.5.2',
  );
});

test('parsePath: returns the rest (the parameters) and checks kinds', () => {
  const p = parsePath('<a@b.c> SIZE=1', { kind: 'MAIL' });
  assert.ok(!(p instanceof SmtpError));
  assert.equal(p.rest, ' SIZE=1');
  assert.ok(parsePath('<Postmaster>', { kind: 'MAIL' }) instanceof SmtpError);
});

test('mailOptions / rcptOptions: ESMTP parameters typed; unknown → 555, bad value → 501', () => {
  assert.deepEqual(
    mailOptions({ SIZE: '1000', BODY: '8bitmime', SMTPUTF8: '', RET: 'hdrs', ENVID: 'QQ+2B1', AUTH: '<>' }),
    {
      raw: { SIZE: '1000', BODY: '8bitmime', SMTPUTF8: '', RET: 'hdrs', ENVID: 'QQ+2B1', AUTH: '<>' },
      size: 1000,
      body: '8BITMIME',
      smtputf8: true,
      ret: 'HDRS',
      envid: 'QQ+1',
      auth: '<>',
    },
  );
  assert.equal(mailOptions({ AUTH: 'e+2Bf@example.org' }).auth, 'e+f@example.org');
  assert.equal(
    refusal(() => mailOptions({ FOO: 'bar' })),
    '555 5.5.4',
  );
  assert.equal(
    refusal(() => mailOptions({ SIZE: 'big' })),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => mailOptions({ BODY: '9BIT' })),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => mailOptions({ SMTPUTF8: 'yes' })),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => mailOptions({ ENVID: 'a+2' })),
    '501 5.5.4',
  );
  assert.deepEqual(rcptOptions({ NOTIFY: 'success,delay', ORCPT: 'rfc822;Bob+40example.org' }), {
    raw: { NOTIFY: 'success,delay', ORCPT: 'rfc822;Bob+40example.org' },
    notify: ['SUCCESS', 'DELAY'],
    orcpt: { type: 'rfc822', address: 'Bob@example.org' },
  });
  assert.deepEqual(rcptOptions({ NOTIFY: 'NEVER' }).notify, ['NEVER']);
  assert.equal(
    refusal(() => rcptOptions({ NOTIFY: 'NEVER,SUCCESS' })),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => rcptOptions({ NOTIFY: 'SUCCESS,SUCCESS' })),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => rcptOptions({ ORCPT: 'no-semicolon' })),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => rcptOptions({ XFOO: '' })),
    '555 5.5.4',
  );
});

test('formatReply: single and multi-line, enhanced code on each line; refuses CR/LF', () => {
  assert.equal(formatReply({ code: 250, enhanced: '2.1.0', text: 'OK' }), '250 2.1.0 OK\r\n');
  assert.equal(formatReply({ code: 220, text: 'mx ESMTP' }), '220 mx ESMTP\r\n');
  assert.equal(
    formatReply({ code: 214, enhanced: '2.0.0', text: ['one', 'two', 'three'] }),
    '214-2.0.0 one\r\n214-2.0.0 two\r\n214 2.0.0 three\r\n',
  );
  assert.throws(() => formatReply({ code: 250, text: 'a\r\nMAIL FROM:<x>' }), TypeError);
  assert.throws(() => formatReply({ code: 99, text: 'x' }), TypeError);
});

test('parseReply / ReplyParser: read replies back, with and without enhanced codes', () => {
  assert.deepEqual(parseReply('250 2.1.0 OK\r\n'), { code: 250, enhanced: '2.1.0', text: 'OK' });
  assert.deepEqual(parseReply('220 mx.example ESMTP\r\n'), { code: 220, text: 'mx.example ESMTP' });
  assert.deepEqual(parseReply('250-mx.example greets x\r\n250-PIPELINING\r\n250 SIZE 100\r\n'), {
    code: 250,
    text: ['mx.example greets x', 'PIPELINING', 'SIZE 100'],
  });
  assert.deepEqual(parseReply('550 2.1.0 class mismatch is not an enhanced code\r\n'), {
    code: 550,
    text: '2.1.0 class mismatch is not an enhanced code',
  });
  assert.deepEqual(parseReply('354\r\n'), { code: 354, text: '' });
  const rp = new ReplyParser();
  assert.equal(rp.push('452-4.5.3 Too many'), undefined);
  assert.deepEqual(rp.push('452 4.5.3 recipients'), {
    code: 452,
    enhanced: '4.5.3',
    text: ['Too many', 'recipients'],
  });
  assert.throws(() => parseReply('25 short\r\n'), SyntaxError);
  assert.throws(() => parseReply('250-a\r\n251 b\r\n'), SyntaxError);
  assert.throws(() => parseReply('250-a\r\n'), SyntaxError);
  for (const reply of [
    { code: 250, enhanced: '2.0.0', text: ['a', 'b'] },
    { code: 421, enhanced: '4.4.2', text: 'timeout' },
  ]) {
    assert.deepEqual(parseReply(formatReply(reply)), reply);
  }
});

test('EHLO capabilities format and parse', () => {
  const reply = formatEhloReply('mx greets c', ['PIPELINING', 'SIZE 1000', 'AUTH PLAIN LOGIN']);
  const wire = formatReply(reply);
  assert.equal(wire, '250-mx greets c\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 AUTH PLAIN LOGIN\r\n');
  const caps = parseEhloReply(parseReply(wire));
  assert.deepEqual([...caps.keys()], ['PIPELINING', 'SIZE', 'AUTH']);
  assert.deepEqual(caps.get('AUTH'), ['PLAIN', 'LOGIN']);
});

test('formatCommand refuses CR/LF injection', () => {
  assert.equal(formatCommand('MAIL', 'FROM:<a@b.c>', 'SIZE=10'), 'MAIL FROM:<a@b.c> SIZE=10\r\n');
  assert.throws(() => formatCommand('EHLO', 'x\r\nRCPT TO:<y@z>'), TypeError);
});
