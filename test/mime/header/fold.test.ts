import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeEncodedWords,
  encodeHeaderValue,
  foldHeader,
  parseHeaderBlock,
} from '../../../src/mime/header/index.js';

function unfold(s: string): string {
  return s.replace(/\r\n(?=[ \t])/g, '');
}

function lines(s: string): string[] {
  return s.split('\r\n');
}

/** Every encoded word of the folded text must sit whole on one line. */
function wordsIntact(folded: string): boolean {
  for (const line of lines(folded)) {
    let at = line.indexOf('=?');
    while (at >= 0) {
      const m = /^=\?[^?\s]+\?[BQ]\?[^?\s]*\?=/.exec(line.slice(at));
      if (m === null) return false;
      at = line.indexOf('=?', at + m[0].length);
    }
  }
  return true;
}

describe('foldHeader', () => {
  test('short values stay on one line', () => {
    assert.equal(foldHeader('Subject', 'hello'), 'Subject: hello');
  });

  test('folds at whitespace, continuation lines start with one space, ≤ 78', () => {
    const v = 'word '.repeat(40).trim();
    const f = foldHeader('Subject', v);
    for (const l of lines(f)) assert.ok(l.length <= 78, l);
    for (const l of lines(f).slice(1)) assert.match(l, /^ \S/);
    assert.equal(unfold(f), 'Subject: ' + v);
    assert.ok(!f.endsWith('\r\n'));
  });

  test('long encoded subject folds between words, never inside one', () => {
    const v = encodeHeaderValue('한국어 제목 테스트입니다 '.repeat(10));
    const f = foldHeader('Subject', v);
    assert.ok(wordsIntact(f));
    // The first line holds the name and one whole encoded word (75 max), so it may pass 78.
    for (const l of lines(f).slice(1)) assert.ok(l.length <= 78, l);
    assert.ok(lines(f)[0]!.length <= 'Subject: '.length + 75);
    // What the reader sees after parsing and decoding equals the original text.
    const parsed = parseHeaderBlock(Buffer.from(f + '\r\n')).fields[0]!;
    assert.equal(decodeEncodedWords(parsed.value), '한국어 제목 테스트입니다 '.repeat(10).trim());
  });

  test('a word longer than 998 is cut so no line exceeds 998', () => {
    const f = foldHeader('X-Long', 'a'.repeat(3000));
    for (const l of lines(f)) assert.ok(l.length <= 998);
    assert.equal(unfold(f).replace(/ /g, ''), 'X-Long:' + 'a'.repeat(3000));
  });

  test('bare CR/LF in a value cannot start a new field', () => {
    const f = foldHeader('Subject', 'hi\r\nBcc: evil@example.com');
    const { fields } = parseHeaderBlock(Buffer.from(f + '\r\n'));
    assert.equal(fields.length, 1);
    assert.equal(fields[0]!.value, 'hi Bcc: evil@example.com');
  });

  test('existing folds are not doubled', () => {
    assert.equal(unfold(foldHeader('To', 'a@b,\r\n c@d')), 'To: a@b, c@d');
  });

  test('property: unfold(fold(v)) = v, lines ≤ 998, ≤ 78 when a break exists, encoded words intact', () => {
    const word = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'b', 'é', '한', '😀', '=', '?'), minLength: 1, maxLength: 30 }),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 120 }).map((s) => s.replace(/\s/g, 'x')),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 40 }), fc.boolean(), (words, encode) => {
        const text = words.join(' ');
        const v = encode ? encodeHeaderValue(text) : text;
        const f = foldHeader('Subject', v);
        if (unfold(f) !== 'Subject: ' + v) return false;
        for (const l of lines(f)) if (l.length > 998) return false;
        if (encode) {
          if (!wordsIntact(f)) return false;
          if (decodeEncodedWords(unfold(f).slice(9)) !== text) return false;
        }
        // Any line over 78 must be a single unbreakable word (plus its leading space).
        for (const l of lines(f))
          if (l.length > 78 && /\S\s+\S/.test(l.slice(l.startsWith(' ') ? 1 : 9))) return false;
        return true;
      }),
      { numRuns: 300 },
    );
  });

  test('exhaustive over a tiny alphabet: folding at width 8 preserves every value', () => {
    const alphabet = ['a', ' ', 'é', '\t'];
    let frontier = [''];
    for (let len = 1; len <= 7; len++) {
      const next: string[] = [];
      for (const p of frontier) for (const c of alphabet) next.push(p + c);
      for (const v of next) {
        const f = foldHeader('S', v, 8);
        assert.equal(unfold(f), 'S: ' + v, JSON.stringify(v));
        assert.ok(!/\r\n(?![ \t])/.test(f), 'a fold must be followed by whitespace');
      }
      frontier = next;
    }
  });
});
