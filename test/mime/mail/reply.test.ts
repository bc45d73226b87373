/**
 * Replies and forwards built from parsed originals (shared by the CLI user agent and the
 * webmail): subject prefixes, quoting, RFC 5322 §3.6.4 threading, reply-all recipients, HTML-only
 * originals quoted as text, and the composed reply parsing back with the right fields.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import {
  buildForward,
  buildReply,
  composeMessageToBuffer,
  forwardSubject,
  type ParsedMessage,
  parseMessage,
  quoteText,
  replyRecipients,
  replySubject,
  threadReferences,
} from '../../../src/mime/index.js';

const ORIGINAL = [
  'From: =?UTF-8?B?6rmA7LKg7IiY?= <chulsoo@example.org>',
  'To: me@uu.ac.kr, Mina <mina@uu.ac.kr>',
  'Cc: ME@uu.ac.kr, lee@example.net, mina@uu.ac.kr',
  'Subject: =?UTF-8?B?7ZqM7J2Y?=',
  'Date: Tue, 03 Mar 2026 10:00:00 +0900',
  'Message-ID: <c@example.org>',
  'In-Reply-To: <b@example.org>',
  'References: <a@example.org> <b@example.org>',
  'Content-Type: text/plain; charset=utf-8',
  '',
  '안녕하세요',
  '> earlier',
  '',
].join('\r\n');

const parse = (raw: string) => parseMessage(Buffer.from(raw));

describe('reply and forward building', () => {
  test('subjects get one prefix', () => {
    assert.equal(replySubject('회의'), 'Re: 회의');
    assert.equal(replySubject('RE: 회의'), 'RE: 회의');
    assert.equal(replySubject('Re[2]: x'), 'Re[2]: x');
    assert.equal(replySubject(undefined), 'Re: ');
    assert.equal(forwardSubject('Fwd: x'), 'Fwd: x');
    assert.equal(forwardSubject('FW: x'), 'FW: x');
    assert.equal(forwardSubject('x'), 'Fwd: x');
  });

  test('quoting and References (RFC 5322 §3.6.4)', () => {
    assert.equal(quoteText('a\n\n> b\n'), '> a\n>\n>> b');
    const m = (refs: string[], irt?: string) =>
      ({ references: refs, inReplyTo: irt, messageId: 'c@x' }) as unknown as ParsedMessage;
    assert.deepEqual(threadReferences(m(['a@x', 'b@x'])), ['a@x', 'b@x', 'c@x']);
    assert.deepEqual(threadReferences(m([], 'b@x')), ['b@x', 'c@x']);
    assert.deepEqual(threadReferences(m([])), ['c@x']);
    assert.deepEqual(threadReferences(m(['c@x'])), ['c@x'], 'the parent is not listed twice');
  });

  test('reply-all: author in To, the others once in Cc, never the replier', async () => {
    const orig = await parse(ORIGINAL);
    const one = replyRecipients(orig, 'me@uu.ac.kr');
    assert.deepEqual(
      one.to.map((m) => m.address),
      ['chulsoo@example.org'],
    );
    assert.deepEqual(one.cc, []);
    const all = replyRecipients(orig, 'me@uu.ac.kr', true);
    assert.deepEqual(
      all.cc.map((m) => m.address),
      ['mina@uu.ac.kr', 'lee@example.net'],
      'ME@ is the replier in another case; mina@ appears once',
    );
    const withReplyTo = await parse(ORIGINAL.replace('Subject:', 'Reply-To: list@example.org\r\nSubject:'));
    assert.deepEqual(
      replyRecipients(withReplyTo, 'me@uu.ac.kr').to.map((m) => m.address),
      ['list@example.org'],
    );
    const own = await parse(ORIGINAL.replace('chulsoo@example.org', 'me@uu.ac.kr'));
    assert.deepEqual(
      replyRecipients(own, 'me@uu.ac.kr').to.map((m) => m.address),
      ['me@uu.ac.kr'],
      'replying to one’s own message goes to its author rather than to nobody',
    );
  });

  test('a composed reply parses back threaded, quoted and addressed', async () => {
    const orig = await parse(ORIGINAL);
    const o = buildReply(orig, { name: '나', address: 'me@uu.ac.kr' }, { all: true, text: '네, 좋아요.' });
    const back = await parseMessage(await composeMessageToBuffer({ ...o, domain: 'uu.ac.kr' }));
    assert.equal(back.subject, 'Re: 회의');
    assert.equal(back.inReplyTo, 'c@example.org');
    assert.deepEqual(back.references, ['a@example.org', 'b@example.org', 'c@example.org']);
    assert.deepEqual(
      back.to.map((m) => m.address),
      ['chulsoo@example.org'],
    );
    assert.deepEqual(
      back.cc.map((m) => m.address),
      ['mina@uu.ac.kr', 'lee@example.net'],
    );
    assert.equal(back.from[0]?.name, '나');
    assert.equal(
      back.text,
      '네, 좋아요.\n\nOn Tue, 03 Mar 2026 01:00:00 GMT, 김철수 <chulsoo@example.org> wrote:\n> 안녕하세요\n>> earlier\n',
    );
  });

  test('an HTML-only original is quoted as text', async () => {
    const html = await parse(
      'From: a@example.org\r\nSubject: h\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>there</b></p><script>x()</script>\r\n',
    );
    const o = buildReply(html, { address: 'me@uu.ac.kr' }, { text: '' });
    assert.match(String(o.text), /^> Hello there$/m);
    assert.doesNotMatch(String(o.text), /<|x\(\)/);
  });

  test('forward inline keeps the attachments; as attachment wraps the original', async () => {
    const withFile = await parse(
      [
        'From: a@example.org',
        'To: me@uu.ac.kr',
        'Subject: report',
        'Message-ID: <r@example.org>',
        'Content-Type: multipart/mixed; boundary=b',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'see attached',
        '--b',
        'Content-Type: application/pdf; name=r.pdf',
        'Content-Disposition: attachment; filename=r.pdf',
        'Content-Transfer-Encoding: base64',
        '',
        'JVBERg==',
        '--b--',
        '',
      ].join('\r\n'),
    );
    const inline = buildForward(
      withFile,
      { address: 'me@uu.ac.kr' },
      { to: ['x@example.net'], cc: [], text: 'FYI' },
    );
    assert.equal(inline.subject, 'Fwd: report');
    assert.equal(inline.cc, undefined);
    assert.deepEqual(inline.references, ['r@example.org']);
    assert.match(
      String(inline.text),
      /^FYI\n\n---------- Forwarded message ---------\nFrom: a@example.org\n/,
    );
    assert.match(String(inline.text), /\n\nsee attached/);
    assert.deepEqual(
      inline.attachments?.map((a) => [a.filename, String(a.content)]),
      [['r.pdf', '%PDF']],
    );
    const wrapped = buildForward(
      withFile,
      { address: 'me@uu.ac.kr' },
      {
        to: ['x@example.net'],
        text: 'FYI',
        asAttachment: true,
        raw: () => Readable.from([Buffer.from('raw')]),
      },
    );
    assert.equal(wrapped.attachments?.[0]?.contentType, 'message/rfc822');
    assert.equal(wrapped.attachments?.[0]?.filename, 'report.eml');
    assert.throws(() =>
      buildForward(withFile, { address: 'me@uu.ac.kr' }, { to: [], text: '', asAttachment: true }),
    );
  });
});
