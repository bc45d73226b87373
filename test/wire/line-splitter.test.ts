import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter } from '../../src/wire/index.js';

function lines(sp: LineSplitter) {
  const out: Array<[string, string, boolean]> = [];
  for (let l = sp.next(); l; l = sp.next()) out.push([l.line.toString('latin1'), l.ending, l.tooLong]);
  return out;
}

test('LineSplitter: CRLF and bare LF lines, partial lines wait', () => {
  const sp = new LineSplitter({ maxLength: 512 });
  sp.push(Buffer.from('EHLO a\r\nNOOP\nMAIL FR'));
  assert.deepEqual(lines(sp), [
    ['EHLO a', 'crlf', false],
    ['NOOP', 'lf', false],
  ]);
  assert.equal(sp.buffered, 7);
  sp.push(Buffer.from('OM:<>\r'));
  assert.deepEqual(lines(sp), []);
  sp.push(Buffer.from('\nDATA'));
  assert.deepEqual(lines(sp), [['MAIL FROM:<>', 'crlf', false]]);
  assert.equal(sp.takeRemainder().toString(), 'DATA');
  assert.equal(sp.buffered, 0);
});

test('LineSplitter: byte-by-byte gives the same lines', () => {
  const input = 'A\r\nB\nC\r\r\n\r\n';
  const whole = new LineSplitter({ maxLength: 100 });
  whole.push(Buffer.from(input));
  const one = new LineSplitter({ maxLength: 100 });
  const got: Array<[string, string, boolean]> = [];
  for (const b of Buffer.from(input)) {
    one.push(Buffer.from([b]));
    got.push(...lines(one));
  }
  assert.deepEqual(got, lines(whole));
  assert.deepEqual(got, [
    ['A', 'crlf', false],
    ['B', 'lf', false],
    ['C\r', 'crlf', false],
    ['', 'crlf', false],
  ]);
});

test('LineSplitter: limit counts the CRLF; over-long lines are cut and memory stays bounded', () => {
  const sp = new LineSplitter({ maxLength: 10 });
  sp.push(Buffer.from('12345678\r\n123456789\r\n'));
  assert.deepEqual(lines(sp), [
    ['12345678', 'crlf', false],
    ['123456789\r', 'crlf', true],
  ]);
  for (let i = 0; i < 1000; i++) {
    sp.push(Buffer.from('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'));
    assert.equal(sp.next(), undefined);
    assert.ok(sp.buffered <= 10);
  }
  sp.push(Buffer.from('\r\nNOOP\r\n'));
  assert.deepEqual(lines(sp), [
    ['xxxxxxxxxx', 'crlf', true],
    ['NOOP', 'crlf', false],
  ]);
});
