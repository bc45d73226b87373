import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import {
  ComposeError,
  chooseTextEncoding,
  composeMessage,
  composeMessageToBuffer,
  type MimePart,
  parseMessage,
} from '../../../src/mime/index.js';
import { tempDir } from '../../support/tmp.js';

/** Header block of the top level, unfolded lines. */
function headerOf(raw: Buffer): string {
  const s = raw.toString('latin1');
  return s.slice(0, s.indexOf('\r\n\r\n'));
}

/**
 * Lines ≤ 78, except a header line holding a field name and one whole RFC 2047 word (75 characters
 * by §2), which cannot be folded; never more than 998.
 */
function assertWellFormedLines(raw: Buffer, max = 78): void {
  const s = raw.toString('latin1');
  assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(s), 'only CRLF line ends');
  for (const line of s.split('\r\n')) {
    const unfoldable = /^[\w-]+: =\?[^?]+\?[BQ]\?[^?]*\?=$/.test(line) && line.length <= 100;
    assert.ok(line.length <= max || unfoldable, `line of ${line.length}: ${line.slice(0, 60)}…`);
  }
}

function tree(p: MimePart): string {
  return p.children.length ? `${p.mediaType}(${p.children.map(tree).join(',')})` : p.mediaType;
}

test('fills MIME-Version, Date and Message-ID; never writes Bcc', async () => {
  const raw = await composeMessageToBuffer({
    from: 'Alice <alice@example.com>',
    to: 'bob@example.org',
    bcc: ['hidden@example.net', 'Hidden Two <two@example.net>'],
    subject: 'Plain ASCII subject',
    text: 'Hello Bob.\n',
  });
  const head = headerOf(raw);
  assert.match(head, /^MIME-Version: 1\.0$/m);
  assert.match(head, /^Date: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/m);
  assert.match(head, /^Message-ID: <[^@\s]+@example\.com>$/m);
  assert.match(head, /^Subject: Plain ASCII subject$/m);
  assert.doesNotMatch(raw.toString(), /hidden|Bcc/i);
  assert.match(raw.toString(), /Content-Transfer-Encoding: 7bit\r\n\r\nHello Bob\.\r\n$/);
});

test('explicit Date, Message-ID, In-Reply-To, References and extra headers', async () => {
  const raw = await composeMessageToBuffer({
    from: { name: '김민수', address: 'minsu@example.kr' },
    to: [{ name: 'Bob, Jr.', address: 'bob@example.org' }],
    subject: '회의 일정',
    date: new Date(Date.UTC(2025, 0, 6, 1, 2, 3)),
    messageId: 'abc@example.kr',
    inReplyTo: '<parent@example.org>',
    references: ['root@example.org', '<parent@example.org>'],
    headers: { 'X-Mailer': 'Posthorn', 'X-Note': '메모' },
    text: 'x',
  });
  const head = headerOf(raw);
  assert.match(head, /^Date: Mon, 0?6 Jan 2025 01:02:03 \+0000$/m);
  assert.match(head, /^Message-ID: <abc@example\.kr>$/m);
  assert.match(head, /^In-Reply-To: <parent@example\.org>$/m);
  assert.match(head, /^References: <root@example\.org> <parent@example\.org>$/m);
  assert.match(head, /^From: =\?UTF-8\?[BQ]\?[^?]+\?= <minsu@example\.kr>$/m);
  assert.match(head, /^To: "Bob, Jr\." <bob@example\.org>$/m);
  assert.match(head, /^X-Mailer: Posthorn$/m);
  const m = await parseMessage(raw);
  assert.equal(m.subject, '회의 일정');
  assert.deepEqual(m.from, [{ name: '김민수', address: 'minsu@example.kr' }]);
  assert.equal(m.headers.get('x-note') !== undefined, true);
  assert.deepEqual(m.references, ['root@example.org', 'parent@example.org']);
});

test('transfer encoding chosen by content', () => {
  assert.equal(chooseTextEncoding(Buffer.from('plain ascii\r\n')), '7bit');
  assert.equal(chooseTextEncoding(Buffer.from(`${'long '.repeat(30)}\r\n`)), 'quoted-printable');
  assert.equal(
    chooseTextEncoding(Buffer.from('Grüße aus Köln, wir sehen uns bald wieder\r\n')),
    'quoted-printable',
  );
  assert.equal(chooseTextEncoding(Buffer.from('안녕하세요 반갑습니다\r\n')), 'base64');
  assert.equal(chooseTextEncoding(Buffer.from('nul \x00 byte')), 'quoted-printable');
});

test('structure: alternative inside related inside mixed, each only when needed', async () => {
  const cases: [Parameters<typeof composeMessage>[0], string][] = [
    [{ from: 'a@x.org', text: 't' }, 'text/plain'],
    [{ from: 'a@x.org', html: '<p>h</p>' }, 'text/html'],
    [{ from: 'a@x.org', text: 't', html: '<p>h</p>' }, 'multipart/alternative(text/plain,text/html)'],
    [
      { from: 'a@x.org', text: 't', attachments: [{ content: Buffer.from('x'), filename: 'x.bin' }] },
      'multipart/mixed(text/plain,application/octet-stream)',
    ],
    [
      {
        from: 'a@x.org',
        text: 't',
        html: '<img src="cid:i1">',
        attachments: [
          { content: Buffer.from('png'), contentType: 'image/png', inline: true, cid: 'i1' },
          { content: 'doc', filename: 'a.txt', contentType: 'text/plain' },
        ],
      },
      'multipart/mixed(multipart/related(multipart/alternative(text/plain,text/html),image/png),text/plain)',
    ],
  ];
  for (const [opts, want] of cases) {
    const m = await parseMessage(await composeMessageToBuffer(opts));
    assert.equal(tree(m.root), want);
    assert.deepEqual(m.defects, []);
  }
});

test('lines stay within 78 columns for long words, long subjects and Korean file names', async () => {
  const raw = await composeMessageToBuffer({
    from: '아주 긴 이름을 가진 보내는 사람 정말로 긴 이름 <sender@example.com>',
    to: Array.from({ length: 12 }, (_, i) => `user${i}@example.org`),
    subject: `${'제목 '.repeat(40)} and ${'word '.repeat(30)}`,
    text: `${'x'.repeat(500)}\n${'한글 '.repeat(200)}`,
    html: `<p>${'y'.repeat(2000)}</p>`,
    attachments: [{ content: Buffer.alloc(5000, 1), filename: `${'보고서 '.repeat(15)}.pdf` }],
  });
  assertWellFormedLines(raw);
  const m = await parseMessage(raw);
  assert.equal(m.to.length, 12);
  assert.equal(m.attachments[0]!.filename, `${'보고서 '.repeat(15)}.pdf`);
  assert.match(raw.toString(), /filename\*0\*=utf-8''/);
  assert.match(raw.toString(), /name="=\?UTF-8\?/);
});

test('attachments from a path and from a stream are read in chunks', async () => {
  const dir = await tempDir();
  const file = join(dir, 'data.bin');
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  await writeFile(file, data);
  const stream = Readable.from(
    (async function* () {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(10_000, i);
    })(),
  );
  const out = composeMessage({
    from: 'a@x.org',
    to: 'b@y.org',
    text: 'files',
    attachments: [{ path: file }, { content: stream, filename: 'stream.bin' }],
  });
  let chunks = 0;
  const parts: Buffer[] = [];
  for await (const c of out) {
    chunks++;
    parts.push(c as Buffer);
  }
  assert.ok(chunks > 5, `streamed in ${chunks} chunks`);
  const m = await parseMessage(Buffer.concat(parts));
  assert.equal(m.attachments[0]!.filename, 'data.bin');
  assert.deepEqual(m.attachments[0]!.content, data);
  assert.equal(m.attachments[1]!.content!.length, 50_000);
});

test('invalid requests throw ComposeError before any output', async () => {
  assert.throws(() => composeMessage({ from: [] }), ComposeError);
  assert.throws(() => composeMessage({ from: 'a@x.org', headers: { 'Bad Name': 'x' } }), ComposeError);
  assert.throws(() => composeMessage({ from: 'a@x.org', to: 'b@y.org\r\nBcc: evil@z.org' }), ComposeError);
  assert.throws(() => composeMessage({ from: 'a@x.org', attachments: [{ filename: 'x' }] }), ComposeError);
  assert.throws(() => composeMessage({ from: 'a@x.org', inReplyTo: 'a\r\nX: y' }), ComposeError);
  // A header value cannot inject a field: line breaks become spaces.
  const raw = await composeMessageToBuffer({ from: 'a@x.org', subject: 'one\r\nBcc: evil@z.org', text: '' });
  assert.doesNotMatch(raw.toString(), /^Bcc:/m);
});

test('a missing attachment file makes the stream fail with ENOENT', async () => {
  const out = composeMessage({
    from: 'a@x.org',
    text: 'x',
    attachments: [{ path: '/nonexistent/posthorn-test' }],
  });
  await assert.rejects(async () => {
    for await (const _ of out) {
      // drain
    }
  }, /ENOENT/);
});
