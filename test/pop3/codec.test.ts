import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BodyEncoder,
  DotStuffer,
  DotUnstuffer,
  formatCommand,
  formatErr,
  formatMultiline,
  formatOk,
  parseCommand,
  parseMessageNumber,
  parseResponse,
  TopLimiter,
} from '../../src/pop3/codec/index.js';

test('parseCommand: keywords are case-insensitive, arguments keep case, PASS keeps spaces', () => {
  assert.deepEqual(parseCommand('retr 1'), { keyword: 'RETR', args: ['1'], rest: '1' });
  assert.deepEqual(parseCommand('TOP 1  10'), { keyword: 'TOP', args: ['1', '10'], rest: '1  10' });
  assert.deepEqual(parseCommand('Pass my secret '), {
    keyword: 'PASS',
    args: ['my', 'secret'],
    rest: 'my secret ',
  });
  assert.deepEqual(parseCommand('QUIT'), { keyword: 'QUIT', args: [], rest: '' });
  assert.equal(parseCommand(''), undefined);
  assert.equal(parseCommand(' STAT'), undefined);
  assert.equal(parseCommand('TOOLONG x'), undefined);
  assert.equal(parseCommand('\x01\x02'), undefined);
});

test('parseMessageNumber accepts 1.. in decimal only', () => {
  assert.equal(parseMessageNumber('1'), 1);
  assert.equal(parseMessageNumber('007'), 7);
  for (const bad of ['0', '-1', '1.5', 'x', '', '1e3', '1234567890', undefined]) {
    assert.equal(parseMessageNumber(bad), undefined, String(bad));
  }
});

test('responses: +OK/-ERR with RFC 2449 codes; no CR/LF can leak into a status line', () => {
  assert.equal(formatOk(), '+OK\r\n');
  assert.equal(formatOk('2 320'), '+OK 2 320\r\n');
  assert.equal(formatErr('Authentication failed', 'AUTH'), '-ERR [AUTH] Authentication failed\r\n');
  assert.equal(formatErr('bad\r\n+OK forged'), '-ERR bad +OK forged\r\n');
  assert.equal(formatMultiline('x', ['a', '.b']), '+OK x\r\na\r\n..b\r\n.\r\n');
  assert.deepEqual(parseResponse('-ERR [IN-USE] locked'), { ok: false, code: 'IN-USE', text: 'locked' });
  assert.deepEqual(parseResponse('+OK'), { ok: true, text: '' });
  assert.deepEqual(parseResponse('+ok 1 2'), { ok: true, text: '1 2' });
  assert.equal(parseResponse('+OKAY'), undefined);
  assert.equal(parseResponse('* 1 EXISTS'), undefined);
  assert.throws(() => formatCommand('USER', 'a\r\nDELE 1'), /CR, LF/);
});

function stuffWhole(input: Buffer, splits: number[]): Buffer {
  const s = new DotStuffer();
  const out: Buffer[] = [];
  let from = 0;
  for (const at of [...splits, input.length]) {
    out.push(s.push(input.subarray(from, at)));
    from = at;
  }
  out.push(s.end());
  return Buffer.concat(out);
}

function referenceStuff(input: string): string {
  let body = input.replace(/(^|\n)\./g, '$1..');
  if (body.length && !body.endsWith('\r\n')) body += body.endsWith('\r') ? '\n' : '\r\n';
  return `${body}.\r\n`;
}

test('DotStuffer: every split of inputs over a tiny alphabet matches the reference', () => {
  const alphabet = ['.', '\r', '\n', 'a'];
  const inputs: string[] = [''];
  for (let len = 1; len <= 5; len++) {
    const prev = inputs.filter((s) => s.length === len - 1);
    for (const p of prev) for (const c of alphabet) inputs.push(p + c);
  }
  for (const s of inputs) {
    const input = Buffer.from(s, 'latin1');
    const expected = referenceStuff(s);
    for (let a = 0; a <= input.length; a++) {
      for (let b = a; b <= input.length; b++) {
        assert.equal(stuffWhole(input, [a, b]).toString('latin1'), expected, JSON.stringify({ s, a, b }));
      }
    }
  }
});

test('DotStuffer then DotUnstuffer gives back CRLF messages at every chunk boundary', () => {
  const msgs = ['.\r\n', '..\r\n.x\r\n', 'a\r\n.\r\nb\r\n', 'Subject: x\r\n\r\n.\r\n..\r\n...end\r\n', ''];
  for (const m of msgs) {
    const wire = stuffWhole(Buffer.from(m, 'latin1'), []);
    for (let split = 0; split <= wire.length; split++) {
      const un = new DotUnstuffer();
      const got = Buffer.concat([
        un.push(wire.subarray(0, split)),
        un.push(Buffer.concat([wire.subarray(split), Buffer.from('+OK next')])),
      ]);
      assert.equal(got.toString('latin1'), m, JSON.stringify({ m, split }));
      assert.ok(un.done);
      assert.equal(un.rest.toString(), '+OK next');
    }
  }
});

test('DotUnstuffer fed one byte at a time', () => {
  const wire = Buffer.from('..a\r\nb\r\n.\r\n');
  const un = new DotUnstuffer();
  const out: Buffer[] = [];
  for (const byte of wire) out.push(un.push(Buffer.from([byte])));
  assert.equal(Buffer.concat(out).toString(), '.a\r\nb\r\n');
  assert.ok(un.done);
});

/** Feeds `s` to a BodyEncoder in chunks of `size`, as the session does, stopping once it is done. */
function encode(s: string, size: number, topLines?: number): string {
  const enc = new BodyEncoder(topLines);
  let out = '';
  for (let i = 0; i < s.length && !enc.done; i += size)
    out += enc.push(Buffer.from(s.slice(i, i + size), 'latin1')).toString('latin1');
  return out + enc.end().toString('latin1');
}

test('TopLimiter: headers, blank line, then k body lines, at any chunk size', async () => {
  const msg = 'A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n';
  for (const size of [1, 2, 3, 5, 100]) {
    assert.equal(encode(msg, size, 0), 'A: 1\r\nB: 2\r\n\r\n.\r\n');
    assert.equal(encode(msg, size, 2), 'A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n');
    assert.equal(encode(msg, size, 99), 'A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n');
  }
  // No blank line: the whole message is header.
  assert.equal(encode('A: 1\r\nB: 2', 3, 0), 'A: 1\r\nB: 2\r\n.\r\n');
  const t = new TopLimiter(0);
  t.push(Buffer.from('X: y\r\n\r\n'));
  assert.ok(t.done);
});

test('BodyEncoder is done once TOP has what it needs, so the rest need not be read', () => {
  const enc = new BodyEncoder(3);
  assert.equal(enc.push(Buffer.from('H: 1\r\n\r\n')).toString(), 'H: 1\r\n\r\n');
  let out = '';
  let pushed = 0;
  while (!enc.done) {
    pushed++;
    out += enc.push(Buffer.from('line\r\n')).toString();
  }
  assert.equal(out + enc.end().toString(), 'line\r\nline\r\nline\r\n.\r\n');
  assert.equal(pushed, 3);
});
