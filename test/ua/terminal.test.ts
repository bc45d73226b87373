/**
 * The terminal output as a user sees it, through a real pseudo-terminal (util-linux `script`):
 * the inbox table keeps its columns aligned with Korean, Chinese and emoji text (two columns per
 * character) and fits the terminal's width; the fetch progress bar appears on a terminal and
 * never in a pipe. Without `script`, the pty checks are skipped and the width check runs on the
 * piped output alone.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import stringWidth from 'string-width';
import { composeMessageToBuffer, parseMessage } from '../../src/mime/index.js';
import { AccountBook, accountStorage, configDir, dataDir, parseEndpoint } from '../../src/ua/index.js';
import {
  addAccountDirect,
  DOMAIN,
  deliverMany,
  entry,
  root,
  type Server,
  startServer,
  ua,
  userEnv,
} from './support.js';

const hasScript = spawnSync('script', ['--version']).status === 0;

/** Runs the UA in a pseudo-terminal of the given width; returns what the terminal received. */
function inPty(
  args: string[],
  env: NodeJS.ProcessEnv,
  cols: number,
): Promise<{ code: number | null; out: string }> {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const cmd = `stty cols ${cols} rows 50; exec '${process.execPath}' --import tsx ${entry} ${quoted}`;
  return new Promise((resolve, reject) => {
    const p = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: root, env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
    p.stdin.end();
  });
}

/** Text lines as displayed: escape sequences removed, CR handled. */
function screenLines(raw: string): string[] {
  return raw
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .split('\n')
    .map((l) => l.replace(/\r$/, '').split('\r').pop()!)
    .filter((l) => l.length > 0);
}

const FROMS = [
  '김철수 <kim@example.test>',
  'John Smith <john@example.test>',
  '王小明 <wang@example.test>',
  'Émilie <em@example.test>',
];
const SUBJECTS = [
  '분기별 매출 보고서 검토 요청드립니다 — 이번 주 금요일까지 회신 부탁드립니다 (긴 제목)',
  'Lunch?',
  '会议纪要 🎉 emoji and 한글 mixed',
  'Résumé attached',
];

const inboxEnv = userEnv();

before(async () => {
  const book = new AccountBook(configDir(inboxEnv));
  await book.add({
    name: 'm',
    address: `me@${DOMAIN}`,
    smtp: parseEndpoint('127.0.0.1:9', 'smtp', 'none'),
    pop3: parseEndpoint('127.0.0.1:9', 'pop3', 'none'),
    tls: 'none',
    tlsVerify: true,
    user: `me@${DOMAIN}`,
  });
  const { maildir } = accountStorage(dataDir(inboxEnv), 'm');
  for (const [i, subject] of SUBJECTS.entries()) {
    const bytes = await composeMessageToBuffer({
      from: FROMS[i]!,
      to: `me@${DOMAIN}`,
      subject,
      text: '본문',
      attachments: i % 2 ? [{ content: Buffer.from('x'), filename: '첨부.txt' }] : [],
    });
    const p = await maildir.begin();
    await p.write(bytes);
    await p.commit();
  }
});

function checkAligned(lines: string[], width: number): void {
  assert.equal(lines.length, 1 + SUBJECTS.length, lines.join('\n'));
  // Right-aligned Size is the last column: every line ends at the same display column.
  for (const l of lines) assert.equal(stringWidth(l), width, `line not ${width} columns wide: ${l}`);
  // The Date column starts at the same display column on every row.
  const dateCols = lines.slice(1).map((l) => stringWidth(l.slice(0, l.search(/\d\d-\d\d \d\d:\d\d/))));
  assert.equal(new Set(dateCols).size, 1, lines.join('\n'));
  const subjectCol = stringWidth(lines[0]!.slice(0, lines[0]!.indexOf('Subject')));
  for (const [i, l] of lines.slice(1).entries()) {
    const start = stringWidth(l.slice(0, l.indexOf(SUBJECTS[i]!.slice(0, 4))));
    assert.equal(start, subjectCol, `subject of row ${i + 1} starts at column ${start}`);
  }
  assert.match(lines[1]!, /[가-힣] ?~ /, 'the long Korean subject is cut, marked with ~');
}

test('inbox table stays aligned with wide characters (piped: 100 columns)', async () => {
  const r = await ua(['inbox'], inboxEnv);
  assert.equal(r.code, 0, r.stderr);
  checkAligned(r.stdout.trimEnd().split('\n'), 100);
});

test('inbox table stays aligned with wide characters in a real terminal of 83 columns', {
  skip: !hasScript && 'no script(1)',
}, async () => {
  const r = await inPty(['inbox'], inboxEnv, 83);
  assert.equal(r.code, 0, r.out);
  checkAligned(screenLines(r.out), 83);
});

test('the fetch progress bar is drawn on a terminal only', {
  skip: !hasScript && 'no script(1)',
}, async (t) => {
  const srv: Server = await startServer([`gina@${DOMAIN}`]);
  t.after(() => srv.close());
  const env = userEnv();
  await addAccountDirect(env, 'g', `gina@${DOMAIN}`, srv);
  await deliverMany(
    srv,
    `gina@${DOMAIN}`,
    Array.from({ length: 25 }, (_, i) => `Subject: ${i}\r\n\r\n${'x'.repeat(2000)}\r\n`),
  );
  const tty = await inPty(['fetch', '--keep'], env, 100);
  assert.equal(tty.code, 0, tty.out);
  assert.match(tty.out, /fetching \[[=-]{40}\] \d+\/25 messages/);
  assert.match(tty.out, /fetched 25 messages/);
  const piped = await ua(['fetch', '--keep', '--all'], env);
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(piped.stderr, '');
  assert.match(
    piped.stdout,
    /^fetched 25 messages .*; 0 already fetched; 0 deleted on the server; 25 left there\n$/,
  );
});

test('on a terminal without -m, the body is written in $EDITOR', {
  skip: !hasScript && 'no script(1)',
}, async () => {
  // The editor is run as `$EDITOR FILE`; this one writes the body into FILE.
  const editor = { EDITOR: "printf '편집기에서 쓴 본문' >" };
  const r = await inPty(
    ['send', '--to', 'x@example.test', '--subject', 's', '--dry-run'],
    { ...inboxEnv, ...editor },
    100,
  );
  assert.equal(r.code, 0, r.out);
  const msg = await parseMessage(Buffer.from(r.out.replace(/\r\n/g, '\n')));
  assert.equal(msg.text, '편집기에서 쓴 본문');
  const empty = await inPty(
    ['send', '--to', 'x@example.test', '--subject', 's', '--dry-run'],
    { ...inboxEnv, EDITOR: 'true' },
    100,
  );
  assert.equal(empty.code, 1);
  assert.match(empty.out, /empty message; nothing sent/);
});

test('account add asks for what is missing on a terminal, the password without echo', {
  skip: !hasScript && 'no script(1)',
  timeout: 30_000,
}, async (t) => {
  const env = userEnv();
  const args = ['account', 'add', 'home', '--smtp', '127.0.0.1:2525', '--pop3', '127.0.0.1:1100'];
  const cmd = `stty cols 100; exec '${process.execPath}' --import tsx ${entry} ${args.join(' ')}`;
  const p = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: root, env: { ...process.env, ...env } });
  let out = '';
  const waiters: Array<() => void> = [];
  p.stdout.on('data', (d) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((r) => p.on('close', r));
  t.after(() => {
    if (p.exitCode === null) p.kill('SIGKILL');
  });
  // Answer each question once it is on the screen, as a person would.
  const answer = async (prompt: string, text: string) => {
    while (!out.includes(prompt)) await new Promise<void>((r) => waiters.push(r));
    out = out.slice(out.indexOf(prompt) + prompt.length);
    p.stdin.write(`${text}\r`);
  };
  let seen = '';
  p.stdout.on('data', (d) => (seen += d));
  await answer('E-mail address:', 'me@example.test');
  await answer('TLS (starttls, implicit, none) [starttls]:', 'none');
  await answer('Login name [me@example.test]:', '');
  await answer('Password:', 'typed-secret');
  await answer('Again:', 'typed-secret');
  assert.equal(await exited, 0, seen);
  assert.match(
    seen,
    /account home added \(me@example\.test; smtp 127\.0\.0\.1:2525, pop3 127\.0\.0\.1:1100, tls none\)/,
  );
  assert.ok(!seen.includes('typed-secret'), 'the password is not echoed');
  assert.equal(readFileSync(join(configDir(env), 'passwords', 'home'), 'utf8'), 'typed-secret');
});
