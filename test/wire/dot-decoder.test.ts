import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DotDecoder, DotStuffer, dotStuff } from '../../src/wire/index.js';

function decodeAll(input: Buffer, split: number[] = []) {
  const d = new DotDecoder();
  const out: Buffer[] = [];
  let rest: Buffer | undefined;
  let at = 0;
  for (const cut of [...split, input.length]) {
    const res = d.push(input.subarray(at, cut));
    out.push(...res.chunks);
    if (res.done && rest === undefined) rest = Buffer.concat([res.rest!, input.subarray(cut)]);
    at = cut;
    if (res.done) break;
  }
  return {
    body: Buffer.concat(out).toString('latin1'),
    done: d.done,
    rest: rest?.toString('latin1'),
    defects: d.defects,
  };
}

const B = (s: string) => Buffer.from(s, 'latin1');

const table: Array<[string, string, string | undefined]> = [
  // input, body, rest (undefined: not ended)
  ['.\r\n', '', ''],
  ['a\r\n.\r\n', 'a\r\n', ''],
  ['a\r\n.\r\nQUIT\r\n', 'a\r\n', 'QUIT\r\n'],
  ['..\r\n.\r\n', '.\r\n', ''],
  ['..a\r\n...\r\n.\r\n', '.a\r\n..\r\n', ''],
  ['a\r\n\r\n.\r\n', 'a\r\n\r\n', ''],
  ['a\n.\nMAIL FROM:<x@y>\r\n', 'a\n.\nMAIL FROM:<x@y>\r\n', undefined],
  ['a\r\n.\nMAIL FROM:<x@y>\r\n', 'a\r\n\nMAIL FROM:<x@y>\r\n', undefined],
  ['a\n.\r\nMAIL FROM:<x@y>\r\n', 'a\n.\r\nMAIL FROM:<x@y>\r\n', undefined],
  ['a\r.\rMAIL FROM:<x@y>\r\n', 'a\r.\rMAIL FROM:<x@y>\r\n', undefined],
  ['a\r\n.\rMAIL\r\n', 'a\r\n\rMAIL\r\n', undefined],
  ['a\r\n.a\r\n.\r\n', 'a\r\na\r\n', ''],
];

test('DotDecoder: table of endings, stuffing and smuggling vectors', () => {
  for (const [input, body, rest] of table) {
    const r = decodeAll(B(input));
    assert.equal(r.body, body, JSON.stringify(input));
    assert.equal(r.rest, rest, JSON.stringify(input));
    assert.equal(r.done, rest !== undefined, JSON.stringify(input));
  }
});

test('DotDecoder: every split point and byte-by-byte give the same result', () => {
  for (const [input] of table) {
    const whole = decodeAll(B(input));
    for (let i = 0; i <= input.length; i++)
      assert.deepEqual(decodeAll(B(input), [i]), whole, `${JSON.stringify(input)} @${i}`);
    const bytes = Array.from({ length: input.length }, (_, i) => i + 1);
    assert.deepEqual(decodeAll(B(input), bytes), whole, JSON.stringify(input));
  }
});

test('DotDecoder: defects are recorded, not thrown', () => {
  assert.equal(decodeAll(B('a\nb\r\n.\r\n')).defects.bareLf, true);
  assert.equal(decodeAll(B('a\rb\r\n.\r\n')).defects.bareCr, true);
  assert.equal(decodeAll(B('a\0b\r\n.\r\n')).defects.nul, true);
  const clean = decodeAll(B('abc\r\n.\r\n')).defects;
  assert.deepEqual(clean, { bareLf: false, bareCr: false, nul: false, lineTooLong: false });
  const ok998 = `${'x'.repeat(998)}\r\n.\r\n`;
  assert.equal(decodeAll(B(ok998)).defects.lineTooLong, false);
  const bad999 = `${'x'.repeat(999)}\r\n.\r\n`;
  assert.equal(decodeAll(B(bad999)).defects.lineTooLong, true);
});

test('DotDecoder: a NUL counts only before the end of the data, wherever the chunks are cut', () => {
  const before = 'a\0b\r\n.\r\nNOOP\r\n';
  const after = 'ab\r\n.\r\nNO\0OP\r\n';
  for (let i = 0; i <= before.length; i++) {
    assert.equal(decodeAll(B(before), [i]).defects.nul, true, `before @${i}`);
    const r = decodeAll(B(after), [i]);
    assert.equal(r.defects.nul, false, `after @${i}`);
    assert.equal(r.rest, 'NO\0OP\r\n', `after @${i}`);
  }
});

test('DotDecoder: line length is counted across chunk cuts, CRLF included', () => {
  const line = (n: number) => `${'x'.repeat(n)}\r\n`;
  for (const [body, long] of [
    [line(998), false],
    [line(999), true],
    [`${line(10)}${line(998)}${line(5)}`, false],
    [`${line(10)}${line(999)}${line(5)}`, true],
    [`${'x'.repeat(600)}\n${'x'.repeat(600)}\r\n`, true], // a bare LF does not start a line
  ] as const) {
    const input = B(`${body}.\r\n`);
    for (const cuts of [[], [1], [500], [999], [1000], [1001], [250, 500, 750, 1000]]) {
      const r = decodeAll(input, cuts);
      assert.equal(r.defects.lineTooLong, long, `${body.length} octets, cuts ${cuts}`);
      assert.equal(r.body, body, `${body.length} octets, cuts ${cuts}`);
    }
  }
});

/** Reference model: the data ends at the first CRLF.CRLF counting the DATA line's CRLF. */
function referenceEnd(s: string): number | undefined {
  const i = `\r\n${s}`.indexOf('\r\n.\r\n');
  return i < 0 ? undefined : i + 3; // index in s just after ".\r\n"
}

test('DotDecoder: exhaustive over {CR, LF, ".", "a"}^n, n ≤ 8, ends only at CRLF.CRLF', () => {
  const alphabet = ['\r', '\n', '.', 'a'];
  let count = 0;
  const walk = (s: string) => {
    if (s.length > 0) {
      count++;
      const end = referenceEnd(s);
      const whole = decodeAll(B(s));
      assert.equal(whole.done, end !== undefined, JSON.stringify(s));
      if (end !== undefined) assert.equal(whole.rest, s.slice(end), JSON.stringify(s));
      // Unstuffing model: drop the dot at the start of each CRLF-started line before the end.
      const content = end === undefined ? s : s.slice(0, end - 3);
      const expected = `\r\n${content}`.replace(/\r\n\./g, '\r\n').slice(2);
      if (end !== undefined) assert.equal(whole.body, expected, JSON.stringify(s));
      const split = decodeAll(
        B(s),
        Array.from({ length: s.length }, (_, i) => i + 1),
      );
      assert.deepEqual(split, whole, JSON.stringify(s));
    }
    if (s.length < 8) for (const c of alphabet) walk(s + c);
  };
  walk('');
  assert.equal(count, (4 ** 9 - 4) / 3);
});

test('DotStuffer: stuffs dots at line starts and terminates; round-trips through DotDecoder', () => {
  assert.equal(dotStuff(B('a\r\n.b\r\n')).toString('latin1'), 'a\r\n..b\r\n.\r\n');
  assert.equal(dotStuff(B('.\r\n')).toString('latin1'), '..\r\n.\r\n');
  assert.equal(dotStuff(B('no newline')).toString('latin1'), 'no newline\r\n.\r\n');
  assert.equal(dotStuff(B('')).toString('latin1'), '.\r\n');
  const msg = B('.first\r\n..second\r\n\r\n.\r\nlast\r\n');
  const s = new DotStuffer();
  const parts: Buffer[] = [];
  for (const b of msg) parts.push(s.push(Buffer.from([b])));
  parts.push(s.end());
  const wire = Buffer.concat(parts);
  assert.deepEqual(wire, dotStuff(msg));
  const back = decodeAll(wire);
  assert.equal(back.body, msg.toString('latin1'));
  assert.equal(back.rest, '');
});
