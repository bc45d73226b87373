/**
 * Two Posthorn processes on loopback with a route map: mail submitted with AUTH on one arrives in
 * a mailbox on the other with both hops in its trace fields; a queued message survives a kill -9
 * of the sender and is delivered, once, after restart. Postfix's smtp-sink, when installed, is
 * the remote peer of one more test (7-bit only, so the 8BITMIME downgrade meets a real Postfix).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, cliOk, type ServerProcess, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';
import { LineClient, play } from '../support/transcript.js';

const auth = (user: string, pw: string) => Buffer.from(`\0${user}\0${pw}`).toString('base64');

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function submit(
  port: number,
  subject: string,
  body = 'Hello from A.',
  to = 'friend@remote.test',
): Promise<void> {
  const c = await LineClient.connect(port);
  try {
    await play(
      c,
      `
      S: 220 *
      C: EHLO laptop.uu.ac.kr
      S* 250 *
      C: AUTH PLAIN ${auth('kihyun@uu.ac.kr', 'kihyun0')}
      S: 235 *
      C: MAIL FROM:<kihyun@uu.ac.kr>
      S: 250 *
      C: RCPT TO:<${to}>
      S: 250 *
      C: DATA
      S: 354 *
      C: From: Kihyun <kihyun@uu.ac.kr>
      C: To: <${to}>
      C: Subject: ${subject}
      C:
      C: ${body}
      C: .
      S: 250 *
      C: QUIT
      S: 221 *
      `,
    );
  } finally {
    c.close();
  }
}

async function pop(port: number, user: string, pw: string, cmd: 'STAT' | 'RETR 1'): Promise<string> {
  const c = await LineClient.connect(port);
  try {
    const got = await play(
      c,
      `S: +OK*\nC: USER ${user}\nS: +OK*\nC: PASS ${pw}\nS: +OK*\nC: ${cmd}\nS: +OK*`,
    );
    if (cmd === 'STAT') return got[3]!;
    const lines: string[] = [];
    for (;;) {
      const l = await c.readLine();
      if (l === undefined || l === '.') break;
      lines.push(l.startsWith('..') ? l.slice(1) : l);
    }
    return `${lines.join('\r\n')}\r\n`;
  } finally {
    c.send('QUIT');
    c.close();
  }
}

const count = async (port: number) =>
  Number((await pop(port, 'friend@remote.test', 'friend0', 'STAT')).split(' ')[1]);

describe('relay between two Posthorn instances', () => {
  const dataA = tempDir();
  const dataB = tempDir();
  const cfgA = join(dataA, 'posthorn.toml');
  const running: ServerProcess[] = [];
  const startA = async (bPort: number) => {
    const s = await startServe(
      dataA,
      [
        '--hostname',
        'a.uu.ac.kr',
        '--submission',
        '127.0.0.1:0',
        '--config',
        cfgA,
        '--route',
        `remote.test=127.0.0.1:${bPort}`,
      ],
      ['smtp', 'pop3', 'submission'],
    );
    running.push(s);
    return s;
  };
  const startB = async () => {
    const s = await startServe(dataB, ['--hostname', 'b.remote.test']);
    running.push(s);
    return s;
  };

  before(async () => {
    writeFileSync(cfgA, '[queue]\nmin_backoff = 0.1\nmax_backoff = 0.3\npoll_interval = 0.05\nlease = 2\n');
    await cliOk(['domain', 'add', 'uu.ac.kr', '--data', dataA]);
    await cliOk(['user', 'add', 'kihyun@uu.ac.kr', '--password', 'kihyun0', '--data', dataA]);
    await cliOk(['domain', 'add', 'remote.test', '--data', dataB]);
    await cliOk(['user', 'add', 'friend@remote.test', '--password', 'friend0', '--data', dataB]);
  });
  after(async () => {
    for (const s of running) await s.kill();
  });

  it('submitted with AUTH on A, delivered into a mailbox on B; trace fields show both hops', async () => {
    const b = await startB();
    const a = await startA(b.ports.smtp!);
    try {
      await submit(a.ports.submission!, 'two hops');
      await waitFor('delivery on B', async () => (await count(b.ports.pop3!)) === 1);
      const msg = await pop(b.ports.pop3!, 'friend@remote.test', 'friend0', 'RETR 1');
      const head = msg.slice(0, msg.indexOf('\r\n\r\n'));
      assert.match(head, /^Return-Path: <kihyun@uu\.ac\.kr>\r\n/);
      const received = [...head.matchAll(/^Received: [\s\S]*?(?=\r\n\S)/gm)].map((m) => m[0]);
      assert.equal(received.length, 2, head);
      assert.match(
        received[0]!,
        /^Received: from a\.uu\.ac\.kr \(\[127\.0\.0\.1\]\)\r\n\tby b\.remote\.test \(Posthorn\) with ESMTP/,
      );
      assert.match(
        received[1]!,
        /^Received: from laptop\.uu\.ac\.kr \(\[127\.0\.0\.1\]\)\r\n\tby a\.uu\.ac\.kr \(Posthorn\) with ESMTPA/,
      );
      // RFC 6409 §8: submission added the missing Date and Message-ID; the rest is as sent.
      assert.match(
        head,
        /\r\nDate: [^\r]+\r\nMessage-ID: <[^>]+@a\.uu\.ac\.kr>\r\nFrom: Kihyun <kihyun@uu\.ac\.kr>\r\nTo: <friend@remote\.test>\r\nSubject: two hops$/,
      );
      assert.ok(msg.endsWith('\r\n\r\nHello from A.\r\n'));
      await waitFor('A queue empty', async () =>
        (await cliOk(['queue', 'list', '--data', dataA])).includes('0 queued'),
      );
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('the queue survives kill -9 of the sender and delivers once after restart', async () => {
    let b = await startB();
    const bPort = b.ports.smtp!;
    const before = await count(b.ports.pop3!);
    await b.stop(); // B is down: A queues and retries
    let a = await startA(bPort);
    await submit(a.ports.submission!, 'survivor', 'Kept across a crash.');
    const listed = await cliOk(['queue', 'list', '--data', dataA]);
    assert.match(listed, /1 queued message\n/);
    const id = listed.split('\t')[0]!;
    await new Promise((r) => setTimeout(r, 300)); // a few failed attempts
    const shown = await cliOk(['queue', 'show', id, '--data', dataA]);
    assert.match(shown, /friend@remote\.test {2}pending, [1-9]\d* attempts?/);
    assert.match(shown, /4\.4\.1 .*127\.0\.0\.1/);
    await a.kill('SIGKILL');
    b = await startB();
    a = await startA(b.ports.smtp!);
    try {
      await waitFor('delivery after restart', async () => (await count(b.ports.pop3!)) === before + 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await count(b.ports.pop3!), before + 1, 'delivered once');
      assert.match(await cliOk(['queue', 'list', '--data', dataA]), /0 queued messages/);
      const bad = await cli(['queue', 'show', id, '--data', dataA]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /no such queue entry/);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  const sink = spawnSync('which', ['smtp-sink']).status === 0;
  it('Postfix both ways: smtp-source → Posthorn (alias forward, SRS) → smtp-sink (7-bit only, 8-bit mail converted)', {
    skip: !sink && 'smtp-sink not installed',
  }, async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const dumps = tempDir();
    // smtp-sink refuses to run as root without -u; the dump directory must then be writable.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chmodSync(dumps, 0o777);
    const proc = spawn(
      'smtp-sink',
      [
        ...(asRoot ? ['-u', 'nobody'] : []),
        '-8',
        '-d',
        join(dumps, '%Y%m%d%H%M%S.'),
        `127.0.0.1:${port}`,
        '10',
      ],
      { stdio: 'ignore' },
    );
    await new Promise((r) => setTimeout(r, 300));
    await cliOk(['alias', 'add', 'fw@uu.ac.kr', 'far@remote.test', '--data', dataA]);
    const a = await startA(port);
    const dumped = async (n: number) => {
      await waitFor('smtp-sink dump', async () => readdirSync(dumps).length >= n);
      await new Promise((r) => setTimeout(r, 200));
      return readdirSync(dumps)
        .sort()
        .map((f) => readFileSync(join(dumps, f), 'latin1'));
    };
    try {
      await submit(a.ports.submission!, 'to postfix', '\u00e9t\u00e9 \ud55c\uad6d\uc5b4');
      const [first] = await dumped(1);
      assert.match(first!, /Subject: to postfix/);
      assert.match(first!, /X-Mail-Args: <kihyun@uu\.ac\.kr>/);
      assert.match(first!, /Content-Transfer-Encoding: quoted-printable/);
      assert.ok(!/[\x80-\xff]/.test(first!), 'converted to 7bit for a server without 8BITMIME');
      // Postfix's SMTP client (smtp-source) sends to an alias of ours that forwards to the sink.
      const src = spawnSync(
        'smtp-source',
        [
          '-m',
          '1',
          '-f',
          'bob@postfix.test',
          '-t',
          'fw@uu.ac.kr',
          '-S',
          'from postfix',
          `127.0.0.1:${a.ports.smtp}`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(src.status, 0, src.stderr);
      const all = await dumped(2);
      const fwd = all.find((d) => d.includes('from postfix'))!;
      assert.match(
        fwd,
        /X-Mail-Args: <SRS0=[^=]{4}=[A-Z2-7]{2}=postfix\.test=bob@uu\.ac\.kr>/,
        'sender rewritten by SRS',
      );
      assert.match(fwd, /X-Rcpt-Args: <far@remote\.test>/);
    } finally {
      await a.stop();
      proc.kill('SIGTERM');
    }
  });
});
