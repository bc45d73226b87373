import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Headers, parseHeaderBlock } from '../../../src/mime/header/index.js';
import {
  AddressError,
  type AddressItem,
  addressToAscii,
  domainToAscii,
  domainToUnicode,
  formatAddressList,
  formatMailbox,
  isValidDomain,
  parseAddressList,
  parseMailbox,
  parsePath,
} from '../../../src/mime/mail/address.js';

/** Any Unicode scalar value, with the characters that matter here made likely. */
const unicodeChar = fc.oneof(
  fc.constantFrom('a', ' ', '=', '?', '_', '\t', '"', '\\', 'é', '한', '😀'),
  fc
    .integer({ min: 0, max: 0x10ffff })
    .filter((c) => c < 0xd800 || c > 0xdfff)
    .map((c) => String.fromCodePoint(c)),
);

function list(value: string): AddressItem[] {
  return parseAddressList(value).value;
}

function headersOf(text: string): Headers {
  return new Headers(parseHeaderBlock(Buffer.from(text.replace(/\n/g, '\r\n'))).fields);
}

describe('RFC 5322 Appendix A.1 (addressing)', () => {
  test('A.1.1 simple addressing', () => {
    const h = headersOf('From: John Doe <jdoe@machine.example>\nTo: Mary Smith <mary@example.net>\n\n');
    assert.deepEqual(list(h.get('from')!), [{ name: 'John Doe', address: 'jdoe@machine.example' }]);
    assert.deepEqual(list(h.get('to')!), [{ name: 'Mary Smith', address: 'mary@example.net' }]);
  });
  test('A.1.2 different types of mailboxes', () => {
    assert.deepEqual(list('"Joe Q. Public" <john.q.public@example.com>'), [
      { name: 'Joe Q. Public', address: 'john.q.public@example.com' },
    ]);
    assert.deepEqual(list('Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>'), [
      { name: 'Mary Smith', address: 'mary@x.test' },
      { address: 'jdoe@example.org' },
      { name: 'Who?', address: 'one@y.test' },
    ]);
    assert.deepEqual(list('<boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>'), [
      { address: 'boss@nil.test' },
      { name: 'Giant; "Big" Box', address: 'sysservices@example.net' },
    ]);
  });
  test('A.1.3 group addresses', () => {
    assert.deepEqual(list('A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;'), [
      {
        group: 'A Group',
        members: [
          { name: 'Ed Jones', address: 'c@a.test' },
          { address: 'joe@where.test' },
          { name: 'John', address: 'jdoe@one.test' },
        ],
      },
    ]);
    assert.deepEqual(list('Undisclosed recipients:;'), [{ group: 'Undisclosed recipients', members: [] }]);
  });
});

describe('RFC 5322 Appendix A.5 (white space, comments)', () => {
  const h = headersOf(
    'From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n' +
      'To:A Group(Some people)\n' +
      "     :Chris Jones <c@(Chris's host.)public.example>,\n" +
      '         joe@example.org,\n' +
      '  John <jdoe@one.test> (my dear friend); (the end of the group)\n' +
      'Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;\n\n',
  );
  test('From', () =>
    assert.deepEqual(parseAddressList(h.get('from')!), {
      value: [{ name: 'Pete', address: 'pete@silly.test' }],
      defects: [],
    }));
  test('To', () => {
    assert.deepEqual(parseAddressList(h.get('to')!), {
      value: [
        {
          group: 'A Group',
          members: [
            { name: 'Chris Jones', address: 'c@public.example' },
            { address: 'joe@example.org' },
            { name: 'John', address: 'jdoe@one.test' },
          ],
        },
      ],
      defects: [],
    });
  });
  test('Cc', () => assert.deepEqual(list(h.get('cc')!), [{ group: 'Hidden recipients', members: [] }]));
});

describe('RFC 5322 Appendix A.6 (obsolete forms)', () => {
  test('A.6.1: unquoted dots in names, route address, empty element, spaced dots', () => {
    const h = headersOf(
      'From: Joe Q. Public <john.q.public@example.com>\n' +
        'To: Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example\n\n',
    );
    assert.deepEqual(list(h.get('from')!), [{ name: 'Joe Q. Public', address: 'john.q.public@example.com' }]);
    const to = parseAddressList(h.get('to')!);
    assert.deepEqual(to.value, [
      { name: 'Mary Smith', address: 'mary@example.net' },
      { address: 'jdoe@test.example' },
    ]);
    assert.deepEqual(
      to.defects.map((d) => d.type),
      ['ObsoleteRoute'],
    );
  });
  test('A.6.3: comments and folding inside addresses', () => {
    const h = headersOf(
      'From: John Doe <jdoe@machine(comment).  example>\nTo: Mary Smith\n  \n     <mary@example.net>\n\n',
    );
    assert.deepEqual(list(h.get('from')!), [{ name: 'John Doe', address: 'jdoe@machine.example' }]);
    assert.deepEqual(list(h.get('to')!), [{ name: 'Mary Smith', address: 'mary@example.net' }]);
  });
  test('multi-hop route <@a,@b:x@y>', () => {
    assert.deepEqual(list('<@a.test,@b.test:x@y.test>'), [{ address: 'x@y.test' }]);
  });
});

describe('parseAddressList leniency', () => {
  test('encoded-word display names, split across words (Korean)', () => {
    assert.deepEqual(list('=?UTF-8?B?7ZWc?= =?UTF-8?B?6rWt?= <k@example.kr>'), [
      { name: '한국', address: 'k@example.kr' },
    ]);
    assert.deepEqual(list('=?EUC-KR?B?x9Gxub7u?= <k@example.kr>'), [
      { name: '한국어', address: 'k@example.kr' },
    ]);
  });
  test('encoded word inside a quoted name (common, non-conforming)', () => {
    assert.deepEqual(list('"=?utf-8?Q?Andr=C3=A9?=" <a@b.test>'), [{ name: 'André', address: 'a@b.test' }]);
  });
  test('comment used as the name when there is none', () => {
    assert.deepEqual(list('jdoe@example.org (John Doe)'), [
      { name: 'John Doe', address: 'jdoe@example.org' },
    ]);
  });
  test('UTF-8 local part and U-label domain kept as written (RFC 6532)', () => {
    assert.deepEqual(list('김철수 <철수@예시.한국>'), [{ name: '김철수', address: '철수@예시.한국' }]);
  });
  test('quoted local part: kept quoted only when needed', () => {
    assert.deepEqual(list('"john doe"@example.com, "plain"@example.com'), [
      { address: '"john doe"@example.com' },
      { address: 'plain@example.com' },
    ]);
  });
  test('trailing commas and empty elements', () => {
    const r = parseAddressList('a@b.test,, ,c@d.test,');
    assert.deepEqual(r.value, [{ address: 'a@b.test' }, { address: 'c@d.test' }]);
  });
  test('missing closing angle bracket', () => {
    const r = parseAddressList('Joe <joe@x.test, Ann <ann@y.test>');
    assert.deepEqual(r.value, [
      { name: 'Joe', address: 'joe@x.test' },
      { name: 'Ann', address: 'ann@y.test' },
    ]);
    assert.equal(r.defects[0]?.type, 'MissingAngleClose');
  });
  test('semicolon as separator (Outlook)', () => {
    const r = parseAddressList('a@b.test; c@d.test');
    assert.deepEqual(r.value, [{ address: 'a@b.test' }, { address: 'c@d.test' }]);
    assert.ok(r.defects.length > 0);
  });
  test('name without angle brackets', () => {
    const r = parseAddressList('John Smith john@example.com');
    assert.deepEqual(r.value, [{ name: 'John Smith', address: 'john@example.com' }]);
    assert.equal(r.defects[0]?.type, 'MissingAngleBrackets');
  });
  test('group without closing semicolon', () => {
    const r = parseAddressList('Team: a@b.test, c@d.test');
    assert.deepEqual(r.value, [
      { group: 'Team', members: [{ address: 'a@b.test' }, { address: 'c@d.test' }] },
    ]);
    assert.equal(r.defects[0]?.type, 'MissingGroupEnd');
  });
  test('null address and no-domain address', () => {
    assert.deepEqual(list('<>'), [{ address: '' }]);
    const r = parseAddressList('postmaster');
    assert.deepEqual(r.value, [{ address: 'postmaster' }]);
    assert.equal(r.defects[0]?.type, 'MissingAtSign');
  });
  test('empty and comment-only values', () => {
    assert.deepEqual(parseAddressList(''), { value: [], defects: [] });
    assert.deepEqual(list('(nobody)'), []);
  });
  test('never throws on random input, stays linear', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'<>@,:;"()[]\\ a.é\r\n'), maxLength: 60 }), (s) => {
        parseAddressList(s);
      }),
      { numRuns: 1000 },
    );
    const evil = '<'.repeat(20_000) + '"'.repeat(20_000) + '('.repeat(20_000) + 'a@b,'.repeat(20_000);
    const t0 = performance.now();
    parseAddressList(evil);
    assert.ok(performance.now() - t0 < 1000);
  });
});

describe('parseMailbox (strict)', () => {
  test('accepts RFC 5322 forms', () => {
    assert.deepEqual(parseMailbox('Joe Q. Public <john.q.public@example.com>'), {
      name: 'Joe Q. Public',
      address: 'john.q.public@example.com',
    });
    assert.deepEqual(parseMailbox('"Giant; \\"Big\\" Box" <sysservices@example.net>'), {
      name: 'Giant; "Big" Box',
      address: 'sysservices@example.net',
    });
    assert.deepEqual(parseMailbox('  jdoe@example.org  '), { address: 'jdoe@example.org' });
    assert.deepEqual(parseMailbox('jdoe@example.org (John)'), { name: 'John', address: 'jdoe@example.org' });
    assert.deepEqual(parseMailbox('<a@[192.0.2.1]>'), { address: 'a@[192.0.2.1]' });
    assert.deepEqual(parseMailbox('"a b"@example.org'), { address: '"a b"@example.org' });
    assert.deepEqual(parseMailbox('김철수 <철수@예시.한국>'), { name: '김철수', address: '철수@예시.한국' });
    assert.deepEqual(parseMailbox('=?utf-8?B?7ZWc6rWt?= <k@example.kr>'), {
      name: '한국',
      address: 'k@example.kr',
    });
  });
  const bad: [string, number, RegExp][] = [
    ['', 0, /expected local part/],
    ['joe', 3, /missing "@"/],
    ['joe@', 4, /expected domain/],
    ['joe@@x.test', 4, /expected domain/],
    ['a..b@x.test', 2, /empty label/],
    ['joe@x..test', 6, /empty label/],
    ['joe@-x.test', 4, /invalid domain/],
    ['Joe <joe@x.test', 15, /missing ">"/],
    ['Joe <joe@x.test> extra', 17, /unexpected "e"/],
    ['a@b.test, c@d.test', 8, /unexpected ","/],
    ['"unterminated@x.test', 0, /unterminated quoted string/],
    ['(open comment a@b.test', 0, /unterminated comment/],
    ['John Smith john@example.com', 5, /expected "@"/],
    ['a@[1.2.3.4', 2, /unterminated domain literal/],
  ];
  for (const [input, pos, re] of bad) {
    test(`rejects ${JSON.stringify(input)} at ${pos}`, () => {
      assert.throws(
        () => parseMailbox(input),
        (e) =>
          e instanceof AddressError &&
          e.position === pos &&
          re.test(e.message) &&
          e.message.includes(`position ${pos}`),
      );
    });
  }
});

describe('parsePath (RFC 5321 §4.1.2)', () => {
  const good: [string, string, boolean?][] = [
    ['<jdoe@example.org>', 'jdoe@example.org'],
    ['<>', ''],
    ['<@a.test,@b.test:user@d.test>', 'user@d.test'],
    ['<"john doe"@example.org>', '"john doe"@example.org'],
    ['<"a\\"b"@example.org>', '"a\\"b"@example.org'],
    ['<postmaster@[192.0.2.1]>', 'postmaster@[192.0.2.1]'],
    ['<x@[IPv6:2001:db8::1]>', 'x@[IPv6:2001:db8::1]'],
    ['<user+tag@sub.example.co.uk>', 'user+tag@sub.example.co.uk'],
    ['<철수@예시.한국>', '철수@예시.한국', true],
  ];
  for (const [input, want, utf8] of good) {
    test(`accepts ${input}`, () => assert.equal(parsePath(input, { smtputf8: utf8 === true }), want));
  }
  const bad: [string, number, RegExp, boolean?][] = [
    ['jdoe@example.org', 0, /expected "<"/],
    ['<jdoe@example.org', 17, /missing ">"/],
    ['<jdoe@example.org> ', 18, /unexpected text/],
    ['<jdoe>', 5, /expected "@"/],
    ['<.a@x.test>', 1, /expected local part/],
    ['<a.@x.test>', 3, /empty atom/],
    ['<a@x_y.test>', 4, /expected ">"/],
    ['<a@-x.test>', 3, /invalid domain/],
    ['<a@x.test.>', 3, /invalid domain/],
    ['<a@[1.2.3.999]>', 3, /invalid address literal/],
    ['<a@[IPv6:zz]>', 3, /invalid address literal/],
    ['<철수@example.org>', 1, /expected local part/],
    ['<a b@x.test>', 2, /expected "@"/],
    ['<"a\tb"@x.test>', 3, /bad character/],
    ['<@a.test:>', 9, /expected local part/],
    [`<${'a'.repeat(65)}@x.test>`, 1, /local part longer than 64/],
    [`<a@${'b'.repeat(63)}.${'c'.repeat(64)}.test>`, 3, /invalid domain/],
  ];
  for (const [input, pos, re, utf8] of bad) {
    test(`rejects ${JSON.stringify(input.slice(0, 40))} at ${pos}`, () => {
      assert.throws(
        () => parsePath(input, { smtputf8: utf8 === true }),
        (e) => e instanceof AddressError && e.position === pos && re.test(e.message),
      );
    });
  }
  test('path length limit (§4.5.3.1.3)', () => {
    const long = `<${'a'.repeat(60)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(20)}.test>`;
    assert.ok(long.length > 256, 'test input must exceed the limit');
    assert.throws(() => parsePath(long), /longer than 256/);
    assert.equal(parsePath(long, { maxPath: 1000 }), long.slice(1, -1));
  });
});

describe('domains', () => {
  test('isValidDomain', () => {
    for (const d of [
      'example.org',
      'localhost',
      'a-b.c0.test',
      'xn--bcher-kva.example',
      'bücher.example',
      '예시.한국',
    ]) {
      assert.equal(isValidDomain(d), true, d);
    }
    for (const d of [
      '',
      '-a.test',
      'a-.test',
      'a..b',
      'a.b.',
      'a_b.test',
      'x'.repeat(64) + '.test',
      'a b.test',
    ]) {
      assert.equal(isValidDomain(d), false, d);
    }
  });
  test('IDNA', () => {
    assert.equal(domainToAscii('Bücher.example'), 'xn--bcher-kva.example');
    assert.equal(domainToUnicode('xn--bcher-kva.example'), 'bücher.example');
    assert.equal(domainToAscii('[192.0.2.1]'), '[192.0.2.1]');
    assert.equal(addressToAscii('철수@예시.한국'), '철수@xn--vv4b11d.xn--3e0b707e');
    assert.throws(() => domainToAscii('a b'), AddressError);
  });
});

describe('formatMailbox / formatAddressList', () => {
  test('quotes and encodes names as needed', () => {
    assert.equal(formatMailbox({ address: 'a@b.test' }), 'a@b.test');
    assert.equal(formatMailbox({ address: '' }), '<>');
    assert.equal(formatMailbox({ name: 'Mary Smith', address: 'm@x.test' }), 'Mary Smith <m@x.test>');
    assert.equal(formatMailbox({ name: 'Joe Q. Public', address: 'j@x.test' }), '"Joe Q. Public" <j@x.test>');
    assert.equal(
      formatMailbox({ name: 'Giant; "Big" Box', address: 's@x.test' }),
      '"Giant; \\"Big\\" Box" <s@x.test>',
    );
    assert.match(
      formatMailbox({ name: '한국어', address: 'k@x.test' }),
      /^=\?UTF-8\?B\?[^ ]+\?= <k@x\.test>$/,
    );
    assert.equal(
      formatAddressList([
        { group: 'A Group', members: [{ address: 'a@b.test' }, { name: 'Ed', address: 'c@d.test' }] },
        { address: 'x@y.test' },
      ]),
      'A Group: a@b.test, Ed <c@d.test>;, x@y.test',
    );
  });
  test('an address with a line break cannot inject a header', () => {
    assert.throws(() => formatMailbox({ address: 'a@b.test\r\nBcc: x@y.test' }), AddressError);
    assert.throws(() => formatAddressList([{ name: 'x', address: 'a@b>' }]), AddressError);
    const f = formatMailbox({ name: 'Eve\r\nBcc: x@y.test', address: 'e@v.test' });
    assert.ok(!/[\r\n]/.test(f), f);
    assert.deepEqual(list(f), [{ name: 'Eve\r\nBcc: x@y.test', address: 'e@v.test' }]);
  });
  test('property: parseAddressList(formatAddressList(x)) = x', () => {
    const name = fc.option(
      fc.string({ unit: unicodeChar, minLength: 1, maxLength: 40 }).filter((s) => s.trim() === s && s !== ''),
      {
        nil: undefined,
      },
    );
    const atom = fc.string({
      unit: fc.constantFrom(..."az09!#$%&'*+/=?^_`{|}~-"),
      minLength: 1,
      maxLength: 8,
    });
    const local = fc.tuple(atom, fc.option(atom, { nil: undefined })).map(([a, b]) => (b ? a + '.' + b : a));
    const mailbox = fc
      .record({ name, address: local.map((l) => l + '@example.test') })
      .map((m) => (m.name === undefined ? { address: m.address } : { name: m.name, address: m.address }));
    fc.assert(
      fc.property(fc.array(mailbox, { maxLength: 5 }), (items) => {
        const parsed = parseAddressList(formatAddressList(items));
        assert.deepEqual(parsed.value, items);
      }),
      { numRuns: 150 },
    );
  });
});
