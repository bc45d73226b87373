import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  formatContentType,
  formatParams,
  parseContentDisposition,
  parseContentType,
} from '../../../src/mime/entity/content-type.js';
import { foldHeader, parseHeaderBlock } from '../../../src/mime/header/index.js';

/** Any Unicode scalar value, with the characters that matter here made likely. */
const unicodeChar = fc.oneof(
  fc.constantFrom('a', ' ', '=', '?', '_', '\t', '"', '\\', 'é', '한', '😀'),
  fc
    .integer({ min: 0, max: 0x10ffff })
    .filter((c) => c < 0xd800 || c > 0xdfff)
    .map((c) => String.fromCodePoint(c)),
);

/** Unfolds like a reader would: through parseHeaderBlock. */
function viaHeader(name: string, value: string): string {
  return parseHeaderBlock(Buffer.from(foldHeader(name, value) + '\r\n')).fields[0]!.value;
}

describe('parseContentType: RFC 2045 / 2046', () => {
  const table: [string | undefined, string, Record<string, string>][] = [
    ['text/plain; charset=us-ascii (Plain text)', 'text/plain', { charset: 'us-ascii' }],
    ['text/plain; charset="us-ascii"', 'text/plain', { charset: 'us-ascii' }],
    ['TEXT/HTML; CHARSET=UTF-8', 'text/html', { charset: 'UTF-8' }],
    ['multipart/mixed; boundary="simple boundary"', 'multipart/mixed', { boundary: 'simple boundary' }],
    [
      'message/partial; number=2; total=3; id="oc=jpbe0M2Yt4s@example.com"',
      'message/partial',
      {
        number: '2',
        total: '3',
        id: 'oc=jpbe0M2Yt4s@example.com',
      },
    ],
    ['text / plain ; charset = utf-8', 'text/plain', { charset: 'utf-8' }],
    ['(comment) text/plain (x); (y) charset=(z)utf-8', 'text/plain', { charset: 'utf-8' }],
    [undefined, 'text/plain', { charset: 'us-ascii' }],
    ['', 'text/plain', { charset: 'us-ascii' }],
  ];
  for (const [input, mediaType, params] of table) {
    test(JSON.stringify(input), () => {
      const { value, defects } = parseContentType(input);
      assert.equal(value.mediaType, mediaType);
      assert.equal(`${value.type}/${value.subtype}`, mediaType);
      assert.deepEqual(value.params, params);
      assert.deepEqual(defects, []);
    });
  }
});

describe('parseContentType: RFC 2231 examples', () => {
  test('§3 continuations', () => {
    const v = parseContentType(
      'message/external-body; access-type=URL;\r\n URL*0="ftp://";\r\n URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"',
    ).value;
    assert.deepEqual(v.params, {
      'access-type': 'URL',
      url: 'ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar',
    });
  });
  test('§4 charset and language', () => {
    const v = parseContentType(
      "application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
    ).value;
    assert.equal(v.params.title, 'This is ***fun***');
  });
  test('§4.1 mixed sections (as printed in the RFC, without semicolons)', () => {
    const { value, defects } = parseContentType(
      "application/x-stuff\r\n title*0*=us-ascii'en'This%20is%20even%20more%20\r\n title*1*=%2A%2A%2Afun%2A%2A%2A%20\r\n title*2=\"isn't it!\"",
    );
    assert.equal(value.params.title, "This is even more ***fun*** isn't it!");
    assert.deepEqual(
      defects.map((d) => d.type),
      ['MissingSemicolon'],
    );
  });
  test('§4.1 with semicolons, sections out of order', () => {
    const v = parseContentType(
      "application/x-stuff; title*2=\"isn't it!\"; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*0*=us-ascii'en'This%20is%20even%20more%20",
    ).value;
    assert.equal(v.params.title, "This is even more ***fun*** isn't it!");
  });
});

describe('Korean and real-world parameters', () => {
  test('RFC 2231 Korean filename in continuations, split mid-character', () => {
    // 한국어 문서.pdf in UTF-8; section 0 ends inside 국 (EA B5 | AD).
    const d = parseContentDisposition(
      "attachment;\r\n filename*0*=UTF-8''%ED%95%9C%EA%B5;\r\n filename*1*=%AD%EC%96%B4%20%EB%AC%B8%EC%84%9C.pdf",
    );
    assert.deepEqual(d.value, { type: 'attachment', params: { filename: '한국어 문서.pdf' } });
  });
  test('RFC 2231 EUC-KR filename', () => {
    const d = parseContentDisposition("attachment; filename*=ks_c_5601-1987''%C7%D1%B1%B9%BE%EE.hwp");
    assert.equal(d.value?.params.filename, '한국어.hwp');
  });
  test('RFC 2047 encoded word in a quoted name (Outlook, Gmail)', () => {
    const v = parseContentType('application/pdf; name="=?utf-8?B?7ZWc6rWt7Ja0LnBkZg==?="').value;
    assert.equal(v.params.name, '한국어.pdf');
  });
  test('RFC 2047 EUC-KR words split across a quoted name', () => {
    const v = parseContentType(
      'application/octet-stream; name="=?euc-kr?B?x9E=?= =?euc-kr?B?sbm+7g==?=.txt"',
    ).value;
    assert.equal(v.params.name, '한국어.txt');
  });
  test('RFC 2231 form wins over the plain one', () => {
    const d = parseContentDisposition(
      'attachment; filename="fallback.pdf"; filename*=utf-8\'\'%ED%95%9C.pdf',
    );
    assert.equal(d.value?.params.filename, '한.pdf');
  });
  test('raw UTF-8 in a quoted filename (RFC 6532 era mailers)', () => {
    assert.equal(
      parseContentDisposition('attachment; filename="한국어.pdf"').value?.params.filename,
      '한국어.pdf',
    );
  });
  test('extended value without charset quotes', () => {
    assert.equal(parseContentDisposition('inline; filename*=%ED%95%9C.txt').value?.params.filename, '한.txt');
  });
  test('unquoted boundary with "=" and "." (very common)', () => {
    const v = parseContentType('multipart/alternative; boundary=----=_NextPart_000_0012_01D9.2B3C').value;
    assert.equal(v.params.boundary, '----=_NextPart_000_0012_01D9.2B3C');
  });
  test('unquoted value with spaces kept; next parameter still found', () => {
    const d = parseContentDisposition('attachment; filename=my file.pdf; size=100').value;
    assert.deepEqual(d?.params, { filename: 'my file.pdf', size: '100' });
  });
  test('quoted-pair escapes', () => {
    assert.equal(parseContentType('text/plain; x="a \\"b\\" \\\\ c"').value.params.x, 'a "b" \\ c');
  });
});

describe('defects', () => {
  test('invalid type → text/plain; charset=us-ascii with a defect', () => {
    for (const bad of ['text', '/plain', ';charset=utf-8', 'garbage here']) {
      const { value, defects } = parseContentType(bad);
      assert.equal(value.mediaType, 'text/plain', bad);
      assert.deepEqual(value.params, { charset: 'us-ascii' });
      assert.equal(defects[0]?.type, 'InvalidContentType', bad);
    }
  });
  test('duplicate parameter: first wins, defect', () => {
    const { value, defects } = parseContentType('multipart/mixed; boundary=a; boundary=b');
    assert.equal(value.params.boundary, 'a');
    assert.equal(defects[0]?.type, 'DuplicateParameter');
  });
  test('missing semicolon between parameters', () => {
    const { value, defects } = parseContentType('text/plain charset=utf-8 format=flowed');
    assert.deepEqual(value.params, { charset: 'utf-8', format: 'flowed' });
    assert.equal(defects[0]?.type, 'MissingSemicolon');
  });
  test('unterminated quote runs to the end', () => {
    const { value, defects } = parseContentType('text/plain; name="abc');
    assert.equal(value.params.name, 'abc');
    assert.equal(defects[0]?.type, 'UnterminatedQuotedString');
  });
  test('junk and names without values are skipped', () => {
    const { value, defects } = parseContentType('text/plain; ; junk; charset=utf-8; =x');
    assert.deepEqual(value.params, { charset: 'utf-8' });
    assert.ok(defects.some((d) => d.type === 'InvalidParameter'));
  });
  test('__proto__ as a parameter name does not pollute', () => {
    const { value } = parseContentType('text/plain; __proto__=x; charset=utf-8');
    assert.deepEqual(value.params, { charset: 'utf-8' });
    assert.equal(Object.getPrototypeOf(value.params), Object.prototype);
  });
  test('never throws and stays linear on hostile input', () => {
    const evil = 'text/plain' + '; a*0*="x'.repeat(20_000) + '(((((' + '\\'.repeat(1000);
    const t0 = performance.now();
    parseContentType(evil);
    parseContentDisposition(evil);
    assert.ok(performance.now() - t0 < 500);
  });
});

describe('parseContentDisposition', () => {
  test('RFC 2183 example', () => {
    const d = parseContentDisposition(
      'attachment; filename=genome.jpeg;\r\n modification-date="Wed, 12 Feb 1997 16:29:51 -0500";',
    );
    assert.deepEqual(d.value, {
      type: 'attachment',
      params: { filename: 'genome.jpeg', 'modification-date': 'Wed, 12 Feb 1997 16:29:51 -0500' },
    });
    assert.deepEqual(d.defects, []);
  });
  test('absent → undefined', () =>
    assert.deepEqual(parseContentDisposition(undefined), { value: undefined, defects: [] }));
  test('INLINE lowercased', () => assert.equal(parseContentDisposition('INLINE').value?.type, 'inline'));
  test('parameters without a type: attachment with a defect', () => {
    const d = parseContentDisposition('filename="a.pdf"');
    assert.deepEqual(d.value, { type: 'attachment', params: { filename: 'a.pdf' } });
    assert.ok(d.defects.some((x) => x.type === 'InvalidContentDisposition'));
  });
});

describe('formatParams / formatContentType', () => {
  test('"=?" in a value is written RFC 2231-style so readers cannot mistake it for RFC 2047', () => {
    const f = formatParams({ name: '=?utf-8?Q?x?=' });
    assert.match(f, /^; name\*=utf-8''/);
    assert.equal(parseContentType('a/b' + f).value.params.name, '=?utf-8?Q?x?=');
  });
  test('token, quoted, RFC 2231', () => {
    assert.equal(formatParams({ charset: 'utf-8' }), '; charset=utf-8');
    assert.equal(formatParams({ name: 'a b "c".txt' }), '; name="a b \\"c\\".txt"');
    assert.equal(formatParams({ filename: '한.txt' }), "; filename*=utf-8''%ED%95%9C.txt");
    assert.equal(
      formatContentType('text/plain', { charset: 'utf-8', format: 'flowed' }),
      'text/plain; charset=utf-8; format=flowed',
    );
    assert.equal(formatContentType('application/pdf'), 'application/pdf');
  });
  test('long non-ASCII values use short continuations that never split a character', () => {
    const name = '아주 긴 한국어 파일 이름입니다 '.repeat(6) + '.pdf';
    const f = formatParams({ filename: name });
    const sections = f.split('; ').slice(1);
    assert.ok(sections.length > 2);
    sections.forEach((s, i) => {
      assert.ok(s.startsWith(`filename*${i}*=`), s);
      assert.ok(s.length <= 78, s);
      assert.match(s.split('=').slice(1).join('='), /^(utf-8'')?(%[0-9A-F]{2}|[^%])*$/);
    });
    const header = foldHeader('Content-Disposition', 'attachment' + f);
    for (const line of header.split('\r\n')) assert.ok(line.length <= 78, line);
    assert.equal(
      parseContentDisposition(viaHeader('Content-Disposition', 'attachment' + f)).value?.params.filename,
      name,
    );
  });
  test('property: parse(format(params)) gives the params back', () => {
    const key = fc
      .tuple(fc.constantFrom(...'abcxyz'), fc.string({ unit: fc.constantFrom(...'az09-'), maxLength: 10 }))
      .map(([a, b]) => a + b);
    fc.assert(
      fc.property(fc.dictionary(key, fc.string({ unit: unicodeChar, maxLength: 60 })), (params) => {
        const header = formatContentType('application/octet-stream', params);
        const { value } = parseContentType(viaHeader('Content-Type', header));
        assert.deepEqual(value.params, { ...params });
      }),
      { numRuns: 150 },
    );
  });
});
