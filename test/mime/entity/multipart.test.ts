import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateBoundary, matchDelimiter } from '../../../src/mime/entity/multipart.js';

const B = [Buffer.from('outer'), Buffer.from('inner')];
const m = (s: string, final = false) => matchDelimiter(Buffer.from(s, 'latin1'), 0, B, final);

test('delimiter and close-delimiter lines (RFC 2046 §5.1.1)', () => {
  assert.deepEqual(m('--inner\r\nX'), { kind: 'delimiter', index: 1, lineEnd: 9 });
  assert.deepEqual(m('--outer--\r\n'), { kind: 'close', index: 0, lineEnd: 11 });
  assert.deepEqual(m('--inner \t\r\n'), { kind: 'delimiter', index: 1, lineEnd: 11 }, 'transport padding');
  assert.deepEqual(m('--inner\nX'), { kind: 'delimiter', index: 1, lineEnd: 8 }, 'bare LF');
  assert.deepEqual(m('--outer--junk\r\n'), { kind: 'close', index: 0, lineEnd: 15 });
});

test('lines that are not delimiters', () => {
  assert.equal(m('--innerx\r\n').kind, 'none');
  assert.equal(m('--other\r\n').kind, 'none');
  assert.equal(m('--inner-x\r\n').kind, 'none');
  assert.equal(m(`--inner${' '.repeat(300)}\r\n`).kind, 'none');
});

test('partial input asks for more; at the end of input it decides', () => {
  for (const s of ['--', '--inn', '--inner', '--inner-', '--inner--', '--inner  ', '--inner\r']) {
    assert.equal(m(s).kind, 'more', s);
  }
  assert.equal(m('--inn', true).kind, 'none');
  assert.deepEqual(m('--inner--', true), { kind: 'close', index: 1, lineEnd: 9 });
  assert.deepEqual(m('--inner', true), { kind: 'delimiter', index: 1, lineEnd: 7 });
});

test('generated boundaries are unique, within 70 characters, and safe in QP and base64', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const b = generateBoundary();
    assert.ok(b.length <= 70);
    assert.match(b, /^[-=_A-Za-z0-9]+$/);
    assert.ok(b.includes('=_'), 'cannot occur in base64 or quoted-printable output');
    seen.add(b);
  }
  assert.equal(seen.size, 1000);
});
