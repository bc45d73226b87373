import assert from 'node:assert/strict';
import { test } from 'node:test';
import iconv from 'iconv-lite';
import {
  decodeText,
  decodeTextAsync,
  MimeParser,
  parseMessage,
  readMessage,
} from '../../../src/mime/index.js';

const head = (charset: string, cte = '8bit') =>
  Buffer.from(
    `Subject: t\r\nContent-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n`,
  );

test('big text bodies decode the same asynchronously as synchronously, in every charset path', async () => {
  const line = '한국어 텍스트 café — mixed line\r\n';
  const cases: [string, Buffer][] = [
    ['utf-8', Buffer.from(line.repeat(20_000))],
    ['euc-kr', iconv.encode('한국어 텍스트 line\r\n'.repeat(20_000), 'euc-kr')],
    ['windows-1252', iconv.encode('café crème\r\n'.repeat(40_000), 'windows-1252')],
    ['us-ascii', Buffer.from('plain\r\n'.repeat(60_000))],
    ['utf-16le', iconv.encode('utf16 text\r\n'.repeat(30_000), 'utf-16le')],
  ];
  for (const [charset, body] of cases) {
    const sync = decodeText(body, charset, true);
    const async = await decodeTextAsync(body, charset);
    assert.equal(async.text, sync.text, charset);
    assert.ok(!sync.text.includes('\r\n'), charset);
    const m = await parseMessage(
      Buffer.concat([head(charset, charset === 'utf-16le' ? 'binary' : '8bit'), body]),
    );
    assert.equal(m.text, sync.text, charset);
    const p = new MimeParser();
    p.write(Buffer.concat([head(charset), body]));
    assert.equal(readMessage(p.end()).text, sync.text, charset);
  }
});

test('text/plain with a file name but no attachment disposition is body text; attachment disposition is not', async () => {
  const raw = Buffer.from(
    'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; name=a.txt\r\n\r\nshown\r\n' +
      '--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=b.txt\r\n\r\nattached\r\n' +
      '--b\r\nContent-Type: image/gif\r\n\r\nGIF\r\n--b--\r\n',
  );
  const m = await parseMessage(raw);
  assert.equal(m.text, 'shown');
  assert.deepEqual(
    m.attachments.map((a) => [a.filename, a.contentType, a.inline, a.content?.toString()]),
    [
      ['b.txt', 'text/plain', false, 'attached'],
      [undefined, 'image/gif', false, 'GIF'],
    ],
  );
  assert.equal(m.parts.length, 4);
});

test('unknown charset: text still decoded, defect recorded with the part path', async () => {
  const m = await parseMessage(Buffer.concat([head('x-bogus'), Buffer.from('héllo', 'utf8')]));
  assert.equal(m.text, 'héllo');
  assert.deepEqual(
    m.defects.map((d) => [d.type, d.path]),
    [['UnknownCharset', '']],
  );
});
