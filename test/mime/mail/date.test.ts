import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { formatDate, parseDate } from '../../../src/mime/mail/date.js';

const iso = (v: string) => parseDate(v)?.toISOString();

describe('parseDate: RFC 5322 Appendix A', () => {
  const table: [string, string][] = [
    ['Fri, 21 Nov 1997 09:55:06 -0600', '1997-11-21T15:55:06.000Z'], // A.1.1
    ['Tue, 1 Jul 2003 10:52:37 +0200', '2003-07-01T08:52:37.000Z'], // A.1.2
    ['Thu, 13 Feb 1969 23:32:54 -0330', '1969-02-14T03:02:54.000Z'], // A.1.3
    ['Fri, 21 Nov 1997 10:01:10 -0600', '1997-11-21T16:01:10.000Z'], // A.2
    ['Mon, 24 Nov 1997 14:22:01 -0800', '1997-11-24T22:22:01.000Z'], // A.3 Resent-Date
    [
      // A.5: folded, with a comment
      'Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n               -0330 (Newfoundland Time)',
      '1969-02-14T03:02:00.000Z',
    ],
    ['21 Nov 97 09:55:06 GMT', '1997-11-21T09:55:06.000Z'], // A.6.2
    ['Fri, 21 Nov 1997 09(comment):   55  :  06 -0600', '1997-11-21T15:55:06.000Z'], // A.6.3
  ];
  for (const [input, want] of table) test(JSON.stringify(input), () => assert.equal(iso(input), want));
  test('A.4 Received trailer (date after the semicolon)', () => {
    const received =
      'from x.y.test\r\n   by example.net\r\n   via TCP\r\n   with ESMTP\r\n   id ABC12345\r\n   for <mary@example.net>;  21 Nov 1997 10:05:43 -0600';
    assert.equal(iso(received.slice(received.lastIndexOf(';') + 1)), '1997-11-21T16:05:43.000Z');
  });
});

describe('parseDate: obsolete and wild forms', () => {
  const table: [string, string][] = [
    ['26 Nov 2026 04:05:06 +0000', '2026-11-26T04:05:06.000Z'],
    ['Thu, 26 Nov 26 04:05:06 +0000', '2026-11-26T04:05:06.000Z'],
    ['Thu, 26 Nov 49 04:05:06 +0000', '2049-11-26T04:05:06.000Z'],
    ['Wed, 26 Nov 50 04:05:06 +0000', '1950-11-26T04:05:06.000Z'],
    ['26 Nov 126 04:05:06 +0000', '2026-11-26T04:05:06.000Z'], // three-digit year + 1900
    ['Thu, 26 Nov 2026 04:05 EST', '2026-11-26T09:05:00.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 EDT', '2026-11-26T08:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 CST', '2026-11-26T10:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 CDT', '2026-11-26T09:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 MST', '2026-11-26T11:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 MDT', '2026-11-26T10:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 PST', '2026-11-26T12:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 PDT', '2026-11-26T11:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 UT', '2026-11-26T04:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 GMT', '2026-11-26T04:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 UTC', '2026-11-26T04:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 Z', '2026-11-26T04:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 A', '2026-11-26T04:05:06.000Z'], // military: -0000 per §4.3
    ['Thu, 26 Nov 2026 04:05:06 -0000', '2026-11-26T04:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06', '2026-11-26T04:05:06.000Z'], // no zone
    ['Thu, 26 Nov 2026 04:05:06 +05:30', '2026-11-25T22:35:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 +0000 (UTC)', '2026-11-26T04:05:06.000Z'],
    ['Thu, 26 Nov 2026 04:05:06 GMT+0200', '2026-11-26T02:05:06.000Z'],
    ['Thursday, 26 November 2026 04:05:06 +0000', '2026-11-26T04:05:06.000Z'],
    ['  Thu ,  26  Nov  2026  4:5:6  +0000  ', '2026-11-26T04:05:06.000Z'],
    ['Thu Nov 26 04:05:06 2026', '2026-11-26T04:05:06.000Z'], // asctime (mbox From_ lines)
    ['2026-11-26T04:05:06Z', '2026-11-26T04:05:06.000Z'],
    ['2026-11-26T04:05:06+09:00', '2026-11-25T19:05:06.000Z'],
    ['Thu, 31 Dec 2026 23:59:60 +0000', '2026-12-31T23:59:59.000Z'], // leap second
  ];
  for (const [input, want] of table) test(JSON.stringify(input), () => assert.equal(iso(input), want));
  const bad = [
    '',
    'garbage',
    'Thu, 31 Feb 2026 00:00:00 +0000',
    'Thu, 26 Nov 2026 24:00:00 +0000',
    '26 Foo 2026',
    '26 Nov',
    'x'.repeat(5000),
    '1 2 3 4',
  ];
  for (const b of bad)
    test(`undefined for ${JSON.stringify(b.slice(0, 30))}`, () => assert.equal(parseDate(b), undefined));
});

describe('formatDate', () => {
  test('RFC 5322 form with numeric zone', () => {
    assert.equal(formatDate(new Date(Date.UTC(2026, 10, 26, 4, 5, 6))), 'Thu, 26 Nov 2026 04:05:06 +0000');
    assert.equal(formatDate(new Date(Date.UTC(2003, 6, 1, 8, 52, 37))), 'Tue, 01 Jul 2003 08:52:37 +0000');
  });
  test('invalid Date throws', () => assert.throws(() => formatDate(new Date(Number.NaN)), RangeError));
  test('property: parseDate(formatDate(d)) = d to the second', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1900-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (d) => {
          const s = formatDate(d);
          assert.match(
            s,
            /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000$/,
          );
          assert.equal(parseDate(s)?.getTime(), Math.floor(d.getTime() / 1000) * 1000);
        },
      ),
      { numRuns: 500 },
    );
  });
});
