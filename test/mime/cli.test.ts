/**
 * `posthorn mime parse` / `mime build` run as real processes through src/cli/main.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ParseJson } from '../../src/cli/mime.js';
import { largeAttachmentMessage } from '../fixtures/mime/corpus.js';
import { tempDir } from '../support/tmp.js';

function run(args: string[], stdin?: Buffer): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: 'pipe' });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err }));
    // The CLI may exit (on a limit) before reading all of stdin.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('mime build → mime parse --json: parts, sizes, hashes, decoded text and headers', async () => {
  const dir = tempDir();
  const textFile = join(dir, 'body.txt');
  const htmlFile = join(dir, 'body.html');
  const binFile = join(dir, '보고서 2025.bin');
  const bin = Buffer.alloc(100_000);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 131) & 0xff;
  writeFileSync(textFile, '안녕하세요.\n.dot line\nFrom the start\n');
  writeFileSync(htmlFile, '<p>안녕하세요</p>\n');
  writeFileSync(binFile, bin);
  const built = await run([
    'mime',
    'build',
    '--from',
    '김민수 <minsu@example.kr>',
    '--to',
    'a@example.org',
    '--to',
    'Bob <b@example.org>',
    '--cc',
    'c@example.net',
    '--subject',
    '월간 보고서',
    '--text-file',
    textFile,
    '--html-file',
    htmlFile,
    '--attach',
    binFile,
  ]);
  assert.equal(built.code, 0, built.stderr);
  const eml = join(dir, 'out.eml');
  writeFileSync(eml, built.stdout);
  const parsed = await run(['mime', 'parse', '--json', eml]);
  assert.equal(parsed.code, 0, parsed.stderr);
  const j = JSON.parse(parsed.stdout.toString()) as ParseJson;
  assert.equal(j.headers.subject, '월간 보고서');
  assert.deepEqual(j.headers.from, [{ name: '김민수', address: 'minsu@example.kr' }]);
  assert.deepEqual(j.headers.to, [
    { name: null, address: 'a@example.org' },
    { name: 'Bob', address: 'b@example.org' },
  ]);
  assert.deepEqual(j.headers.cc, [{ name: null, address: 'c@example.net' }]);
  assert.match(j.headers.messageId!, /@example\.kr$/);
  assert.ok(!Number.isNaN(Date.parse(j.headers.date!)));
  assert.deepEqual(j.defects, []);
  assert.deepEqual(
    j.parts.map((p) => `${p.path}:${p.contentType}`),
    [
      ':multipart/mixed',
      '1:multipart/alternative',
      '1.1:text/plain',
      '1.2:text/html',
      '2:application/octet-stream',
    ],
  );
  const [root, , plain, html, att] = [j.parts[0]!, j.parts[1]!, j.parts[2]!, j.parts[3]!, j.parts[4]!];
  assert.equal(root.sha256, null);
  assert.equal(plain.text, '안녕하세요.\r\n.dot line\r\nFrom the start\r\n');
  assert.equal(plain.charset, 'utf-8');
  assert.equal(html.text, '<p>안녕하세요</p>\r\n');
  assert.equal(att.filename, '보고서 2025.bin');
  assert.equal(att.disposition, 'attachment');
  assert.equal(att.transferEncoding, 'base64');
  assert.equal(att.size, bin.length);
  assert.equal(att.sha256, sha(bin));
  assert.equal(att.text, undefined);
  assert.equal(plain.sha256, sha(Buffer.from('안녕하세요.\r\n.dot line\r\nFrom the start\r\n')));
});

test('mime parse - reads standard input; the outline names every part', async () => {
  const raw = largeAttachmentMessage(200_000);
  const r = await run(['mime', 'parse', '-'], raw);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  assert.match(out, /^Subject: attachment of 200000 bytes$/m);
  assert.match(out, /^\s+1 {2}text\/plain/m);
  assert.match(out, /^\s+2 {2}application\/octet-stream {2}base64 {2}"big\.bin" {2}200000 bytes$/m);
});

test('text of a text part is cut at 64 KiB in --json', async () => {
  const dir = tempDir();
  const file = join(dir, 'long.eml');
  writeFileSync(
    file,
    `Subject: long\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${'가'.repeat(40_000)}`,
  );
  const j = JSON.parse((await run(['mime', 'parse', '--json', file])).stdout.toString()) as ParseJson;
  const part = j.parts[0]!;
  assert.equal(part.size, 120_000);
  assert.ok(part.text!.length <= 65536 / 3 + 1 && part.text!.length > 21_000);
  assert.ok(!part.text!.includes('\uFFFD'));
});

test('errors: one line on stderr, exit code 1 for bad input, 2 for bad usage, no stack trace', async () => {
  const missing = await run(['mime', 'parse', '--json', '/nonexistent/x.eml']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim().split('\n').length, 1);
  assert.match(missing.stderr, /no such file/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /);
  const both = await run([
    'mime',
    'build',
    '--from',
    'a@x.org',
    '--to',
    'b@y.org',
    '--text',
    'x',
    '--text-file',
    'y',
  ]);
  assert.equal(both.code, 2);
  assert.equal(both.stdout.length, 0);
  const noFile = await run([
    'mime',
    'build',
    '--from',
    'a@x.org',
    '--to',
    'b@y.org',
    '--attach',
    '/nonexistent/f',
  ]);
  assert.equal(noFile.code, 1);
  assert.equal(noFile.stdout.length, 0);
  assert.match(noFile.stderr, /^posthorn mime build: no such file: \/nonexistent\/f\n$/);
  const limit = await run(['mime', 'parse', '-'], Buffer.from(`Subject: ${'x'.repeat(2 * 1024 * 1024)}`));
  assert.equal(limit.code, 1);
  assert.match(limit.stderr, /limit exceeded/);
});
