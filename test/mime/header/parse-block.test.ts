import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MimeLimitError } from '../../../src/mime/defects.js';
import { Headers, parseHeaderBlock } from '../../../src/mime/header/index.js';

const b = (s: string) => Buffer.from(s, 'utf8');

// RFC 5322 Appendix A.5 (white space, comments, and other oddities), as bytes on the wire.
const A5 =
  'From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\n' +
  'To:A Group(Some people)\r\n' +
  "     :Chris Jones <c@(Chris's host.)public.example>,\r\n" +
  '         joe@example.org,\r\n' +
  '  John <jdoe@one.test> (my dear friend); (the end of the group)\r\n' +
  'Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;\r\n' +
  'Date: Thu,\r\n' +
  '      13\r\n' +
  '        Feb\r\n' +
  '          1969\r\n' +
  '      23:32\r\n' +
  '               -0330 (Newfoundland Time)\r\n' +
  'Message-ID:              <testabcd.1234@silly.test>\r\n' +
  '\r\n' +
  'Testing.\r\n';

describe('parseHeaderBlock', () => {
  test('RFC 5322 A.5: folded fields, raw bytes kept, body not read', () => {
    const { fields, defects } = parseHeaderBlock(b(A5));
    assert.deepEqual(defects, []);
    assert.deepEqual(
      fields.map((f) => f.name),
      ['From', 'To', 'Cc', 'Date', 'Message-ID'],
    );
    assert.equal(
      fields[1]!.value,
      "A Group(Some people)     :Chris Jones <c@(Chris's host.)public.example>,         joe@example.org," +
        '  John <jdoe@one.test> (my dear friend); (the end of the group)',
    );
    assert.equal(
      fields[3]!.value,
      'Thu,      13        Feb          1969      23:32               -0330 (Newfoundland Time)',
    );
    assert.equal(fields[4]!.value, '<testabcd.1234@silly.test>');
    // raw + CRLF of every field, concatenated, gives back the header exactly.
    const rebuilt = Buffer.concat(fields.flatMap((f) => [f.raw, b('\r\n')]));
    assert.equal(rebuilt.toString(), A5.slice(0, A5.indexOf('\r\n\r\n') + 2));
  });

  test('bare LF line ends parse like CRLF', () => {
    const crlf = parseHeaderBlock(b(A5));
    const lf = parseHeaderBlock(b(A5.replace(/\r\n/g, '\n')));
    assert.deepEqual(
      lf.fields.map((f) => [f.name, f.value]),
      crlf.fields.map((f) => [f.name, f.value]),
    );
    const lfText = A5.replace(/\r\n/g, '\n');
    assert.equal(lf.fields[1]!.raw.toString(), lfText.slice(lfText.indexOf('To:'), lfText.indexOf('\nCc:')));
  });

  test('every split point of the block gives the same fields when the caller joins chunks', () => {
    // The header block arrives in pieces; whatever the pieces, the joined block parses the same.
    const whole = parseHeaderBlock(b(A5)).fields.map((f) => [f.name, f.value]);
    for (let i = 1; i < A5.length; i += 7) {
      const joined = Buffer.concat([b(A5.slice(0, i)), b(A5.slice(i))]);
      assert.deepEqual(
        parseHeaderBlock(joined).fields.map((f) => [f.name, f.value]),
        whole,
      );
    }
  });

  test('UTF-8 values decoded (RFC 6532), invalid UTF-8 read as latin1, per field', () => {
    const block = Buffer.concat([b('Subject: 한국어 제목\r\nX-Latin: caf'), Buffer.from([0xe9]), b('\r\n')]);
    const { fields } = parseHeaderBlock(block);
    assert.equal(fields[0]!.value, '한국어 제목');
    assert.equal(fields[1]!.value, 'café');
    assert.deepEqual([...fields[1]!.raw.subarray(-4)], [0x63, 0x61, 0x66, 0xe9]);
  });

  test('a UTF-8 character next to a fold stays whole', () => {
    const { fields } = parseHeaderBlock(b('Subject: 한\r\n 국\r\n'));
    assert.equal(fields[0]!.value, '한 국');
  });

  test('line without colon joins the previous field with a defect', () => {
    const { fields, defects } = parseHeaderBlock(b('Subject: one\r\ntwo three\r\nTo: a@b\r\n'));
    assert.equal(fields.length, 2);
    assert.equal(fields[0]!.value, 'one two three');
    assert.equal(fields[0]!.raw.toString(), 'Subject: one\r\ntwo three');
    assert.deepEqual(
      defects.map((d) => d.type),
      ['MissingHeaderColon'],
    );
  });

  test('leading whitespace on the first line is a defect, the line is skipped', () => {
    const { fields, defects } = parseHeaderBlock(b('  Subject: x\r\nTo: a@b\r\n'));
    assert.deepEqual(
      fields.map((f) => f.name),
      ['To'],
    );
    assert.equal(defects[0]!.type, 'FirstLineContinuation');
  });

  test('mbox From_ line is skipped with a defect', () => {
    const { fields, defects } = parseHeaderBlock(b('From a@b Thu Nov 26 04:05:06 2026\nSubject: x\n\n'));
    assert.equal(fields.length, 1);
    assert.equal(defects[0]!.type, 'UnixFromLine');
  });

  test('obs-optional whitespace before the colon; empty values; names keep their case', () => {
    const { fields } = parseHeaderBlock(b('SUBJECT  : hi\r\nX-Empty:\r\nx-lower:  v  \r\n'));
    assert.deepEqual(
      fields.map((f) => [f.name, f.value]),
      [
        ['SUBJECT', 'hi'],
        ['X-Empty', ''],
        ['x-lower', 'v'],
      ],
    );
  });

  test('a field name with a space is not a field', () => {
    const { fields, defects } = parseHeaderBlock(b('Bad Name: x\r\nTo: a@b\r\n'));
    assert.deepEqual(
      fields.map((f) => f.name),
      ['To'],
    );
    assert.equal(defects[0]!.type, 'MissingHeaderColon');
  });

  test('raw is a private copy: the caller may reuse its buffer', () => {
    const buf = b('Subject: hello\r\n\r\n');
    const { fields } = parseHeaderBlock(buf);
    buf.fill(0x41);
    assert.equal(fields[0]!.raw.toString(), 'Subject: hello');
  });

  test('long lines are a defect, not an error', () => {
    const { fields, defects } = parseHeaderBlock(b(`X-Long: ${'a'.repeat(2000)}\r\n`));
    assert.equal(fields[0]!.value.length, 2000);
    assert.equal(defects[0]!.type, 'LineTooLong');
  });

  test('limits throw MimeLimitError', () => {
    assert.throws(
      () => parseHeaderBlock(b(`X: ${'a'.repeat(200)}\r\n`), { maxHeaderBytes: 100 }),
      (e) => e instanceof MimeLimitError && e.limit === 'maxHeaderBytes',
    );
    assert.throws(
      () => parseHeaderBlock(b('A: 1\r\nB: 2\r\nC: 3\r\n'), { maxFields: 2 }),
      (e) => e instanceof MimeLimitError && e.limit === 'maxFields',
    );
    // The limit applies to the header, not to a body that follows the blank line.
    assert.equal(
      parseHeaderBlock(b(`A: 1\r\n\r\n${'x'.repeat(500)}`), { maxHeaderBytes: 100 }).fields.length,
      1,
    );
  });

  test('empty input and a lone blank line give no fields', () => {
    assert.deepEqual(parseHeaderBlock(new Uint8Array(0)).fields, []);
    assert.deepEqual(parseHeaderBlock(b('\r\n')).fields, []);
  });

  test('a plain Uint8Array works as input', () => {
    const u8 = new Uint8Array(b('To: x@y\r\n'));
    assert.equal(parseHeaderBlock(u8).fields[0]!.value, 'x@y');
  });

  test('fast enough: 10 000 fields in well under a second', () => {
    const block = b(
      'Received: from a.example by b.example; Thu, 26 Nov 2026 04:05:06 +0000\r\n'.repeat(10_000),
    );
    const t0 = performance.now();
    assert.equal(parseHeaderBlock(block).fields.length, 10_000);
    assert.ok(performance.now() - t0 < 1000);
  });
});

describe('Headers', () => {
  const { fields } = parseHeaderBlock(b('Received: one\r\nSubject: s\r\nreceived: two\r\n'));
  const h = new Headers(fields);
  test('case-insensitive first / all / has', () => {
    assert.equal(h.get('RECEIVED'), 'one');
    assert.deepEqual(h.getAll('Received'), ['one', 'two']);
    assert.equal(h.has('subject'), true);
    assert.equal(h.has('to'), false);
    assert.equal(h.get('to'), undefined);
    assert.deepEqual(h.getAll('to'), []);
  });
  test('fields keep order and raw bytes', () => {
    assert.equal(h.fields.length, 3);
    assert.equal(h.getField('received')!.raw.toString(), 'Received: one');
    assert.deepEqual(
      [...h].map((f) => f.name),
      ['Received', 'Subject', 'received'],
    );
  });
});
