import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  MimeLimitError,
  MimeParser,
  type MimePart,
  parseMessage,
  parseMime,
} from '../../../src/mime/index.js';
import { generateCorpus, largeAttachmentMessage } from '../../fixtures/mime/corpus.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

/** A comparable summary of a part tree. */
function shape(p: MimePart): unknown {
  return {
    path: p.path,
    type: p.mediaType,
    cte: p.transferEncoding,
    name: p.filename,
    body: p.body?.toString('hex'),
    defects: p.defects.map((d) => d.type),
    children: p.children.map(shape),
  };
}

function parseChunked(raw: Buffer, sizes: number[]): { root: MimePart; defects: string[] } {
  const parser = new MimeParser();
  let i = 0;
  let k = 0;
  while (i < raw.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    parser.write(raw.subarray(i, i + n));
    i += n;
  }
  const root = parser.end();
  return { root, defects: parser.defects.map((d) => `${d.type}@${d.path}`) };
}

const NESTED = crlf(`From: a@example.com
Subject: tree
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is the preamble.
--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9
--inner
Content-Type: text/html; charset=utf-8

<p>café</p>
--inner--
--outer
Content-Type: message/rfc822

Subject: forwarded
Content-Type: multipart/mixed; boundary="deep"

--deep
Content-Type: text/plain

deep text
--deep--

--outer
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=utf-8''%ED%95%9C.bin
Content-Transfer-Encoding: base64
Content-ID: <part3@example>
Content-Description: =?utf-8?Q?caf=C3=A9_data?=

AAEC
AwQF
--outer--
This is the epilogue.
`);

test('part tree: paths, types, file names, Content-ID, description, decoded bodies', () => {
  const { root, defects } = parseChunked(NESTED, [NESTED.length]);
  assert.deepEqual(defects, []);
  const all: MimePart[] = [];
  const walk = (p: MimePart) => {
    all.push(p);
    p.children.forEach(walk);
  };
  walk(root);
  assert.deepEqual(
    all.map((p) => `${p.path}=${p.mediaType}`),
    [
      '=multipart/mixed',
      '1=multipart/alternative',
      '1.1=text/plain',
      '1.2=text/html',
      '2=message/rfc822',
      '2.1=multipart/mixed',
      '2.1.1=text/plain',
      '3=application/octet-stream',
    ],
  );
  assert.equal(all[2]!.body!.toString(), 'café');
  assert.equal(all[2]!.charset, 'utf-8');
  assert.equal(all[2]!.transferEncoding, 'quoted-printable');
  assert.equal(all[6]!.body!.toString(), 'deep text');
  assert.ok(all[4]!.body!.toString().startsWith('Subject: forwarded\r\n'));
  const att = all[7]!;
  assert.equal(att.filename, '한.bin');
  assert.equal(att.disposition, 'attachment');
  assert.equal(att.contentId, 'part3@example');
  assert.equal(att.description, 'café data');
  assert.deepEqual([...att.body!], [0, 1, 2, 3, 4, 5]);
  assert.equal(root.mimeVersion, '1.0');
  assert.equal(root.preamble?.toString(), 'This is the preamble.');
});

test('chunk boundaries: one byte at a time and random chunkings give the same tree', () => {
  const whole = shape(parseChunked(NESTED, [NESTED.length]).root);
  assert.deepEqual(shape(parseChunked(NESTED, [1]).root), whole);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }), (sizes) => {
      assert.deepEqual(shape(parseChunked(NESTED, sizes).root), whole);
    }),
    { numRuns: 200 },
  );
});

test('chunk boundaries over the generated corpus (bytes 1..7 at a time)', () => {
  for (const m of generateCorpus(3)) {
    const whole = parseChunked(m.raw, [m.raw.length]);
    const bytewise = parseChunked(m.raw, [1, 2, 3, 5, 7]);
    assert.deepEqual(shape(bytewise.root), shape(whole.root), m.name);
    assert.deepEqual(bytewise.defects, whole.defects, m.name);
  }
});

test('fixtures parse to the same tree whether fed whole or byte by byte', () => {
  const dir = new URL('../../fixtures/mime/', import.meta.url);
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.eml'))) {
    const raw = readFileSync(new URL(f, dir));
    assert.deepEqual(shape(parseChunked(raw, [1]).root), shape(parseChunked(raw, [raw.length]).root), f);
  }
});

test('a part whose body is empty, and a delimiter right after the header block', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n--b\n\nx\n--b--\n',
  );
  const { root, defects } = parseChunked(raw, [1]);
  assert.deepEqual(defects, []);
  assert.deepEqual(
    root.children.map((c) => c.body?.toString()),
    ['', 'x'],
  );
});

test('missing closing boundaries: the outer boundary closes the inner multipart', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\none\n--o\n\ntwo\n',
  );
  const { root, defects } = parseChunked(raw, [3]);
  assert.deepEqual(defects, ['MissingClosingBoundary@1', 'MissingClosingBoundary@']);
  assert.equal(root.children[0]!.children[0]!.body!.toString(), 'one');
  assert.equal(root.children[1]!.body!.toString(), 'two\r\n');
});

test('a boundary that never appears: StartBoundaryNotFound, content kept as preamble', () => {
  const raw = crlf('Content-Type: multipart/mixed; boundary=zzz\n\nJust text.\n');
  const { root, defects } = parseChunked(raw, [4]);
  assert.deepEqual(defects, ['StartBoundaryNotFound@']);
  assert.equal(root.preamble!.toString(), 'Just text.\r\n');
});

test('multipart without a boundary parameter is read as text/plain', () => {
  const { root, defects } = parseChunked(crlf('Content-Type: multipart/mixed\n\nbody\n'), [100]);
  assert.deepEqual(defects, ['NoBoundaryInMultipart@']);
  assert.equal(root.mediaType, 'text/plain');
  assert.equal(root.body!.toString(), 'body\r\n');
});

test('defaults: no Content-Type is text/plain, 7bit; bad CTE recorded', () => {
  const { root, defects } = parseChunked(crlf('Subject: x\nContent-Transfer-Encoding: x-weird\n\nhi'), [2]);
  assert.equal(root.mediaType, 'text/plain');
  assert.equal(root.transferEncoding, 'x-weird');
  assert.deepEqual(defects, ['UnknownTransferEncoding@']);
  assert.equal(parseChunked(crlf('\nno headers at all'), [1]).root.body!.toString(), 'no headers at all');
});

test('a body line that looks like a delimiter of a longer boundary is body text', () => {
  const raw = crlf('Content-Type: multipart/mixed; boundary=ab\n\n--ab\n\n--abc\n--ab x\n--ab--\n');
  const { root, defects } = parseChunked(raw, [1]);
  assert.deepEqual(defects, []);
  assert.equal(root.children[0]!.body!.toString(), '--abc\r\n--ab x');
});

test('limits: depth, part count and header size throw MimeLimitError', () => {
  let deep = '';
  for (let i = 0; i < 10; i++) deep += `Content-Type: multipart/mixed; boundary=b${i}\n\n--b${i}\n`;
  assert.equal(parseChunked(crlf(deep), [1000]).root.depth, 0); // 10 levels: within the default
  const p = new MimeParser({ maxDepth: 5 });
  assert.throws(
    () => p.write(crlf(deep)),
    (e) => e instanceof MimeLimitError && e.limit === 'maxDepth' && /deeper than 5/.test(e.message),
  );
  const many = crlf(`Content-Type: multipart/mixed; boundary=b\n\n${'--b\n\nx\n'.repeat(20)}--b--\n`);
  assert.throws(
    () => {
      const q = new MimeParser({ maxParts: 10 });
      q.write(many);
      q.end();
    },
    (e) => e instanceof MimeLimitError && e.limit === 'maxParts',
  );
  const big = new MimeParser({ maxHeaderBytes: 1000 });
  assert.throws(() => big.write(Buffer.from(`Subject: ${'x'.repeat(2000)}`)), MimeLimitError);
});

test('default limits let 10,000 tiny parts through', async () => {
  const raw = Buffer.from(
    `Content-Type: multipart/mixed; boundary=b\r\n\r\n${'--b\r\n\r\nx\r\n'.repeat(10_000)}--b--\r\n`,
  );
  const { root, defects } = await parseMime(raw);
  assert.equal(root.children.length, 10_000);
  assert.deepEqual(defects, []);
});

test('streaming: onPartData sees every decoded byte, hash and size without keeping bodies', async () => {
  const raw = largeAttachmentMessage(3 * 1024 * 1024);
  const hashes = new Map<string, ReturnType<typeof createHash>>();
  const { root } = await parseMime(Readable.from([raw.subarray(0, 100_001), raw.subarray(100_001)]), {
    collect: 'none',
    hash: true,
    onPartData(part, chunk) {
      if (!hashes.has(part.path)) hashes.set(part.path, createHash('sha256'));
      hashes.get(part.path)!.update(chunk);
    },
  });
  const att = root.children[1]!;
  assert.equal(att.size, 3 * 1024 * 1024);
  assert.equal(att.body, undefined);
  assert.equal(att.sha256, hashes.get('2')!.digest('hex'));
  const again = await parseMessage(raw);
  assert.equal(createHash('sha256').update(again.attachments[0]!.content!).digest('hex'), att.sha256);
});

test('callbacks fire in document order', () => {
  const events: string[] = [];
  const p = new MimeParser({
    collect: 'none',
    onPart: (part) => events.push(`start ${part.path}`),
    onPartEnd: (part) => events.push(`end ${part.path}`),
  });
  p.write(NESTED);
  p.end();
  assert.deepEqual(events, [
    'start ',
    'start 1',
    'start 1.1',
    'end 1.1',
    'start 1.2',
    'end 1.2',
    'end 1',
    'start 2',
    'start 2.1',
    'start 2.1.1',
    'end 2.1.1',
    'end 2.1',
    'end 2',
    'start 3',
    'end 3',
    'end ',
  ]);
});

test('8-bit header bytes and mbox From line are tolerated', async () => {
  const raw = Buffer.concat([
    Buffer.from('From sender@example.com Mon Jan  6 10:00:00 2025\r\nSubject: '),
    Buffer.from('한글', 'utf8'),
    Buffer.from('\r\n\r\nbody'),
  ]);
  const m = await parseMessage(raw);
  assert.equal(m.subject, '한글');
  assert.equal(m.text, 'body');
});

test('base64-encoded message/rfc822 is decoded before it is parsed', () => {
  const inner = Buffer.from('Subject: inside\r\n\r\nhello');
  const raw = Buffer.concat([
    crlf(
      'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n',
    ),
    Buffer.from(inner.toString('base64')),
    crlf('\n--b--\n'),
  ]);
  const { root } = parseChunked(raw, [5]);
  const msg = root.children[0]!;
  assert.equal(msg.children[0]!.headers.get('subject'), 'inside');
  assert.equal(msg.children[0]!.body!.toString(), 'hello');
});
