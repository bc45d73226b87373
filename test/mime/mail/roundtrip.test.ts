/**
 * Round trip (issue item 7): compose → parse gives back the same text, html, attachment bytes,
 * file names and headers, over random Unicode (Korean, emoji, long lines, lines starting with '.'
 * or 'From '), random binary attachments and random file names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { composeMessageToBuffer, MimeParser, parseMessage, readMessage } from '../../../src/mime/index.js';

const korean = fc.integer({ min: 0xac00, max: 0xd7a3 }).map((c) => String.fromCharCode(c));
const emoji = fc.constantFrom('😀', '🎉', '👍🏽', '🇰🇷', '❤️');
const ascii = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const latin = fc.constantFrom('é', 'ß', 'ñ', 'ø', '€');
const char = fc.oneof(
  { weight: 5, arbitrary: ascii },
  { weight: 3, arbitrary: korean },
  { weight: 1, arbitrary: emoji },
  { weight: 1, arbitrary: latin },
);
const word = fc.array(char, { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
/** A line: words, sometimes very long, sometimes starting with '.' or 'From '. */
const line = fc
  .tuple(
    fc.constantFrom('', '', '', '.', 'From ', '..', ' '),
    fc.array(word, { maxLength: 12 }),
    fc.constantFrom(1, 1, 1, 30),
  )
  .map(([lead, words, repeat]) => lead + words.join(' ').repeat(repeat));
const body = fc.array(line, { maxLength: 15 }).map((ls) => ls.join('\n'));
/** Header text: no leading/trailing white space and no runs of it (RFC 5322 unfolding rules). */
const headerText = fc
  .array(word, { minLength: 1, maxLength: 15 })
  .map((ws) => ws.join(' ').replace(/\s+/g, ' ').trim())
  .filter((s) => s.length > 0);
const filename = fc
  .tuple(
    fc.array(fc.oneof(korean, ascii, emoji), { minLength: 1, maxLength: 40 }),
    fc.constantFrom('.pdf', '.txt', '', '.tar.gz'),
  )
  .map(([cs, ext]) => cs.join('').trim() + ext)
  .filter((s) => s.length > 0 && !s.includes('"') && !s.includes('\\'));

const attachment = fc.record({
  content: fc.uint8Array({ maxLength: 5000 }).map((a) => Buffer.from(a)),
  filename,
  contentType: fc.constantFrom('application/octet-stream', 'image/png', 'application/pdf'),
});

const message = fc.record({
  subject: headerText,
  name: headerText,
  text: fc.option(body, { nil: undefined }),
  html: fc.option(
    body.map((b) => `<div>${b}</div>`),
    { nil: undefined },
  ),
  attachments: fc.array(attachment, { maxLength: 3 }),
  note: headerText,
});

/** Line ends are canonical CRLF on the wire; the reader gives LF. */
const lf = (s: string) => s.replace(/\r\n|\r/g, '\n');

test('property: compose → parse preserves text, html, attachments, names and headers', async () => {
  await fc.assert(
    fc.asyncProperty(message, async (m) => {
      const raw = await composeMessageToBuffer({
        from: { name: m.name, address: 'sender@example.com' },
        to: [{ name: m.name, address: 'rcpt@example.org' }, 'plain@example.net'],
        subject: m.subject,
        text: m.text,
        html: m.html,
        attachments: m.attachments,
        headers: { 'X-Note': m.note },
      });
      for (const l of raw.toString('latin1').split('\r\n')) assert.ok(l.length <= 998, 'line over 998');
      const p = await parseMessage(raw);
      assert.deepEqual(p.defects, []);
      assert.equal(p.subject, m.subject);
      assert.deepEqual(p.from, [{ name: m.name, address: 'sender@example.com' }]);
      assert.deepEqual(p.to, [
        { name: m.name, address: 'rcpt@example.org' },
        { address: 'plain@example.net' },
      ]);
      assert.equal(p.text, m.text === undefined ? (m.html === undefined ? '' : undefined) : lf(m.text));
      assert.equal(p.html, m.html === undefined ? undefined : lf(m.html));
      assert.equal(p.attachments.length, m.attachments.length);
      m.attachments.forEach((a, i) => {
        const got = p.attachments[i]!;
        assert.equal(got.filename, a.filename);
        assert.equal(got.contentType, a.contentType);
        assert.deepEqual(got.content, a.content);
      });
      const note = p.headers.get('x-note');
      assert.ok(note !== undefined);
      const { decodeEncodedWords } = await import('../../../src/mime/index.js');
      assert.equal(decodeEncodedWords(note), m.note);
      // The same bytes fed one at a time give the same reading.
      const parser = new MimeParser();
      for (let i = 0; i < raw.length; i += 7) parser.write(raw.subarray(i, i + 7));
      const again = readMessage(parser.end(), parser.defects);
      assert.equal(again.text, p.text);
      assert.equal(again.html, p.html);
    }),
    { numRuns: 150 },
  );
});
