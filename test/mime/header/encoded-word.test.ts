import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeEncodedWords,
  encodeHeaderValue,
  MAX_ENCODED_WORD_LENGTH,
} from '../../../src/mime/header/index.js';

/** Any Unicode scalar value, with the characters that matter here made likely. */
const unicodeChar = fc.oneof(
  fc.constantFrom('a', ' ', '=', '?', '_', '\t', '"', '\\', 'é', '한', '😀'),
  fc
    .integer({ min: 0, max: 0x10ffff })
    .filter((c) => c < 0xd800 || c > 0xdfff)
    .map((c) => String.fromCodePoint(c)),
);

const WORD_RE = /=\?[^?\s]+\?[BQbq]\?[^?\s]*\?=/g;

describe('RFC 2047 §8 examples', () => {
  const table: [string, string][] = [
    ['=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>', 'Keith Moore <moore@cs.utk.edu>'],
    ['=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>', 'Keld Jørn Simonsen <keld@dkuug.dk>'],
    ['=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>', 'André Pirard <PIRARD@vm1.ulg.ac.be>'],
    [
      '=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=',
      'If you can read this you understand the example.',
    ],
    ['=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>', 'Olle Järnefors <ojarnef@admin.kth.se>'],
    ['=?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?= <paf@nada.kth.se>', 'Patrik Fältström <paf@nada.kth.se>'],
    [
      'Nathaniel Borenstein <nsb@thumper.bellcore.com> (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)',
      'Nathaniel Borenstein <nsb@thumper.bellcore.com> (\u05dd\u05d5\u05dc\u05e9 \u05df\u05d1 \u05d9\u05dc\u05d8\u05e4\u05e0)',
    ],
    ['Time for ISO 10646?', 'Time for ISO 10646?'],
    // The §8 table of whitespace handling between encoded words.
    ['(=?ISO-8859-1?Q?a?=)', '(a)'],
    ['(=?ISO-8859-1?Q?a?= b)', '(a b)'],
    ['(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['(=?ISO-8859-1?Q?a_b?=)', '(a b)'],
    ['(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)', '(a b)'],
  ];
  for (const [input, expected] of table) {
    test(JSON.stringify(input), () => assert.equal(decodeEncodedWords(input), expected));
  }
});

describe('RFC 2231 §5 language in encoded words', () => {
  test('=?US-ASCII*EN?Q?Keith_Moore?=', () => {
    assert.equal(decodeEncodedWords('=?US-ASCII*EN?Q?Keith_Moore?='), 'Keith Moore');
  });
  test('utf-8*ko', () => assert.equal(decodeEncodedWords('=?utf-8*ko?B?7ZWc6rWt?='), '한국'));
});

describe('Korean mail', () => {
  test('EUC-KR B-encoded subject', () => {
    assert.equal(decodeEncodedWords('=?EUC-KR?B?x9Gxub7u?= test'), '한국어 test');
  });
  test('ks_c_5601-1987 label', () => {
    assert.equal(decodeEncodedWords('=?ks_c_5601-1987?B?x9Gxub7u?='), '한국어');
  });
  test('UTF-8 character split across two B words', () => {
    // 한 = ED 95 9C: the first word ends after ED 95, the second starts with 9C.
    assert.equal(decodeEncodedWords('=?UTF-8?B?7ZU=?= =?UTF-8?B?nOq1rQ==?='), '한국');
  });
  test('UTF-8 character split across two Q words', () => {
    assert.equal(decodeEncodedWords('=?utf-8?Q?=ED=95?=\r\n =?utf-8?Q?=9C?='), '한');
  });
  test('EUC-KR character split across words', () => {
    assert.equal(decodeEncodedWords('=?euc-kr?Q?=C7?= =?euc-kr?Q?=D1=B1=B9?='), '한국');
  });
  test('base64 cut mid-quantum across words', () => {
    // "7ZWc6rWt" split as "7ZWc6r" + "Wt": neither half alone is a whole quantum.
    assert.equal(decodeEncodedWords('=?utf-8?B?7ZWc6r?= =?utf-8?B?Wt?='), '한국');
  });
});

describe('leniency', () => {
  test('words glued to text are decoded', () => {
    assert.equal(decodeEncodedWords('Re:=?utf-8?Q?caf=C3=A9?=!'), 'Re:café!');
  });
  test('adjacent words with no whitespace', () => {
    assert.equal(decodeEncodedWords('=?utf-8?Q?a?==?utf-8?Q?b?='), 'ab');
  });
  test('whitespace between a word and text is kept', () => {
    assert.equal(decodeEncodedWords('x =?utf-8?Q?a?=  y'), 'x a  y');
  });
  test('lowercase encoding letters', () =>
    assert.equal(decodeEncodedWords('=?utf-8?b?w6k=?= =?utf-8?q?=C3=A9?='), 'éé'));
  const malformed = [
    '=?utf-8?X?abc?=',
    '=?utf-8?B?not base64?=',
    '=?utf-8?Q?unterminated',
    '=??Q?empty-charset?=',
    '=?utf-8?B?a*b?=',
    'plain =? text ?=',
    '=?',
    '?=',
  ];
  for (const m of malformed) {
    test(`malformed left as is: ${JSON.stringify(m)}`, () => assert.equal(decodeEncodedWords(m), m));
  }
  test('unknown charset still decodes (UTF-8 or latin1)', () => {
    assert.equal(decodeEncodedWords('=?x-made-up?Q?caf=C3=A9?='), 'café');
    assert.equal(decodeEncodedWords('=?x-made-up?Q?caf=E9?='), 'café');
  });
  test('a malformed word between good ones keeps its spacing', () => {
    assert.equal(decodeEncodedWords('=?utf-8?Q?a?= =?utf-8?X?b?= =?utf-8?Q?c?='), 'a =?utf-8?X?b?= c');
  });
  test('hostile input stays linear', () => {
    const evil = '=?a?q?x'.repeat(40_000);
    const t0 = performance.now();
    assert.ok(decodeEncodedWords(evil) === evil);
    assert.ok(performance.now() - t0 < 500, 'decoding took too long');
  });
});

describe('encodeHeaderValue', () => {
  test('printable ASCII unchanged', () => {
    assert.equal(encodeHeaderValue('Hello, world (really)!'), 'Hello, world (really)!');
  });
  test('only words that need it are encoded', () => {
    const e = encodeHeaderValue('Re: café au lait');
    assert.match(e, /^Re: =\?UTF-8\?[BQ]\?[^ ]+\?= au lait$/);
    assert.equal(decodeEncodedWords(e), 'Re: café au lait');
  });
  test('adjacent non-ASCII words become one run', () => {
    const e = encodeHeaderValue('ok 한국어 제목 ok');
    assert.equal(decodeEncodedWords(e), 'ok 한국어 제목 ok');
    assert.equal((e.match(WORD_RE) ?? []).length, 1);
  });
  test('ASCII text that looks like an encoded word is encoded', () => {
    const e = encodeHeaderValue('=?utf-8?Q?x?=');
    assert.notEqual(e, '=?utf-8?Q?x?=');
    assert.equal(decodeEncodedWords(e), '=?utf-8?Q?x?=');
  });
  test('line breaks are encoded, never emitted raw', () => {
    const e = encodeHeaderValue('a\r\nBcc: victim@example.com');
    assert.ok(!/[\r\n]/.test(e));
    assert.equal(decodeEncodedWords(e), 'a\r\nBcc: victim@example.com');
  });
  test('structured uses only the RFC 2047 §5(3) phrase alphabet', () => {
    const e = encodeHeaderValue('Ünïcode "quoted", (x) <y>', { structured: true });
    for (const w of e.split(' '))
      assert.match(w, /^=\?UTF-8\?(Q\?[A-Za-z0-9!*+\-/=_]*|B\?[A-Za-z0-9+/=]*)\?=$/);
    assert.equal(decodeEncodedWords(e), 'Ünïcode "quoted", (x) <y>');
  });
  test('B chosen for CJK, Q for mostly-ASCII', () => {
    assert.match(encodeHeaderValue('日本語のテキスト'), /\?B\?/);
    assert.match(encodeHeaderValue('Schönheitsideal'), /\?Q\?/);
  });
  test('long text: words ≤ 75, no split code point, emoji surrogate pairs intact', () => {
    const text = '😀한'.repeat(60);
    const e = encodeHeaderValue(text);
    const words = e.match(WORD_RE) ?? [];
    assert.ok(words.length > 1);
    for (const w of words) {
      assert.ok(w.length <= MAX_ENCODED_WORD_LENGTH, w);
      // Each word decodes alone to whole characters (no U+FFFD from a cut sequence).
      assert.ok(!decodeEncodedWords(w).includes('\ufffd'), w);
    }
    assert.equal(decodeEncodedWords(e), text);
  });
  test('round trip for random Unicode (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: unicodeChar, maxLength: 80 }), (s) => {
        const e = encodeHeaderValue(s);
        for (const w of e.match(WORD_RE) ?? []) if (w.length > MAX_ENCODED_WORD_LENGTH) return false;
        return (
          decodeEncodedWords(e) === s && decodeEncodedWords(encodeHeaderValue(s, { structured: true })) === s
        );
      }),
      { numRuns: 200 },
    );
  });
  test('round trip for a tiny alphabet, every string up to length 5 (exhaustive)', () => {
    const alphabet = ['a', ' ', 'é', '=', '?', '_', '한'];
    const all: string[] = [''];
    let frontier = [''];
    for (let len = 1; len <= 5; len++) {
      const next: string[] = [];
      for (const p of frontier) for (const c of alphabet) next.push(p + c);
      all.push(...next);
      frontier = next;
    }
    for (const s of all) {
      assert.equal(decodeEncodedWords(encodeHeaderValue(s)), s, JSON.stringify(s));
      assert.equal(decodeEncodedWords(encodeHeaderValue(s, { structured: true })), s, JSON.stringify(s));
    }
  });
});
