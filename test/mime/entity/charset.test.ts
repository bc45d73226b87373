import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeCharset, normalizeCharset } from '../../../src/mime/entity/charset.js';

const hex = (h: string) => Buffer.from(h.replace(/\s/g, ''), 'hex');

describe('normalizeCharset', () => {
  const table: [string, string | undefined][] = [
    ['UTF-8', 'utf-8'],
    ['utf8', 'utf-8'],
    [' "UTF-8" ', 'utf-8'],
    ['ks_c_5601-1987', 'euc-kr'],
    ['KSC5601', 'euc-kr'],
    ['cp949', 'euc-kr'],
    ['x-windows-949', 'euc-kr'],
    ['EUC-KR', 'euc-kr'],
    ['ISO-8859-1', 'windows-1252'],
    ['iso8859-1', 'windows-1252'],
    ['iso8859_1', 'windows-1252'],
    ['latin1', 'windows-1252'],
    ['US-ASCII', 'windows-1252'],
    ['ascii', 'windows-1252'],
    ['ISO-8859-2', 'iso-8859-2'],
    ['Shift_JIS', 'shift_jis'],
    ['ISO-2022-JP', 'iso-2022-jp'],
    ['GB2312', 'gbk'],
    ['gb18030', 'gb18030'],
    ['Big5', 'big5'],
    ['koi8-r', 'koi8-r'],
    ['ISO-2022-KR', 'iso-2022-kr'],
    ['UTF-7', 'utf-7'],
    ['x-unknown', undefined],
    ['no-such-charset', undefined],
    ['', undefined],
  ];
  for (const [label, want] of table) {
    test(`${JSON.stringify(label)} → ${want}`, () => assert.equal(normalizeCharset(label), want));
  }
});

describe('decodeCharset', () => {
  const table: [string, Buffer, string][] = [
    ['euc-kr', hex('c7d1 b1b9 beee'), '한국어'],
    // UHC (CP949) extension syllables outside KS X 1001: 똠방각하.
    ['ks_c_5601-1987', hex('8c63 b9e6 b0a2 c7cf'), '똠방각하'],
    ['shift_jis', hex('93fa 967b 8cea'), '日本語'],
    ['iso-2022-jp', hex('1b2442 467c 4b5c 386c 1b2842'), '日本語'],
    ['gb18030', hex('d6d0 cec4'), '中文'],
    ['koi8-r', hex('f0d2 c9d7 c5d4'), 'Привет'],
    ['iso-8859-1', hex('636166e9'), 'café'],
    ['windows-1252', hex('80'), '€'],
    ['utf-8', hex('ed959c'), '한'],
    // RFC 1557: designator, SO into KS C 5601, SI back to ASCII.
    ['iso-2022-kr', hex('1b242943 0e 4751 3139 3e6e 0f 21'), '한국어!'],
    // RFC 2152's own example.
    ['utf-7', Buffer.from('Hi Mom -+Jjo--!'), 'Hi Mom -☺-!'],
  ];
  for (const [cs, bytes, want] of table) {
    test(`${cs}`, () => {
      const r = decodeCharset(bytes, cs);
      assert.equal(r.text, want);
      assert.equal(r.defect, undefined);
    });
  }
  test('malformed UTF-8 becomes U+FFFD, never throws', () => {
    assert.equal(decodeCharset(hex('61ed95'), 'utf-8').text, 'a\ufffd');
  });
  test('unknown charset: UTF-8 when valid, with a defect', () => {
    const r = decodeCharset(hex('ed959c'), 'x-bogus');
    assert.equal(r.text, '한');
    assert.equal(r.defect?.type, 'UnknownCharset');
  });
  test('unknown charset: latin1 when not UTF-8', () => {
    assert.equal(decodeCharset(hex('636166e9'), 'x-bogus').text, 'café');
  });
  test('undeclared charset: UTF-8 or latin1 without a defect', () => {
    assert.deepEqual(decodeCharset(hex('636166e9'), undefined), { text: 'café' });
    assert.deepEqual(decodeCharset(hex('ed959c'), undefined), { text: '한' });
  });
});
