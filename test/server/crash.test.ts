/**
 * "Once Posthorn says 250 to DATA, the message survives a kill -9", and a connection killed in
 * the middle of DATA leaves nothing behind. Real process, real SIGKILL, real SQLite file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { cliOk, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';
import { LineClient, play } from '../support/transcript.js';

async function popStat(port: number): Promise<string> {
  const c = await LineClient.connect(port);
  try {
    const got = await play(
      c,
      `
      S: +OK*
      C: USER kihyun@uu.ac.kr
      S: +OK*
      C: PASS kihyun0
      S: +OK*
      C: STAT
      S: +OK*
      C: QUIT
      S: +OK*
      `,
    );
    return got[3]!;
  } finally {
    c.close();
  }
}

async function popRetr(port: number): Promise<Buffer> {
  const c = await LineClient.connect(port);
  try {
    await play(c, 'S: +OK*\nC: USER kihyun@uu.ac.kr\nS: +OK*\nC: PASS kihyun0\nS: +OK*\nC: RETR 1\nS: +OK*');
    const lines: string[] = [];
    for (;;) {
      const l = await c.readLine();
      if (l === undefined || l === '.') break;
      lines.push(l.startsWith('..') ? l.slice(1) : l);
    }
    c.send('QUIT');
    return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
  } finally {
    c.close();
  }
}

/** A connection that is in DATA, right after the 354. */
async function openData(port: number): Promise<LineClient> {
  const c = await LineClient.connect(port);
  await play(
    c,
    `
    S: 220 *
    C: HELO crash.test
    S: 250 *
    C: MAIL FROM:<a@example.org>
    S: 250 *
    C: RCPT TO:<kihyun@uu.ac.kr>
    S: 250 *
    C: DATA
    S: 354 *
    `,
  );
  return c;
}

describe('crash safety', () => {
  const data = tempDir();
  before(async () => {
    await cliOk(['domain', 'add', 'uu.ac.kr', '--data', data]);
    await cliOk(['user', 'add', 'kihyun@uu.ac.kr', '--password', 'kihyun0', '--data', data]);
  });

  it('a message that got 250 is there, whole, after SIGKILL and restart', async () => {
    const body = Array.from({ length: 2000 }, (_, i) => `line ${i} ${randomBytes(24).toString('hex')}`).join(
      '\r\n',
    );
    const s1 = await startServe(data);
    const c = await openData(s1.ports.smtp!);
    c.write(`Subject: survive\r\n\r\n${body}\r\n.\r\n`);
    const reply = await c.readLine(15000);
    assert.match(reply!, /^250 /);
    await s1.kill('SIGKILL');
    c.close();

    const s2 = await startServe(data);
    try {
      const got = await popRetr(s2.ports.pop3!);
      const text = got.toString('latin1');
      assert.ok(
        text.endsWith(`Subject: survive\r\n\r\n${body}\r\n`),
        'stored bytes end with the message as sent',
      );
      assert.match(text, /^Return-Path: <a@example\.org>\r\nReceived: /);
    } finally {
      await s2.stop();
    }
  });

  it('a message killed in the middle of DATA leaves nothing behind', async () => {
    const s1 = await startServe(data);
    const before = await popStat(s1.ports.pop3!);
    const c = await openData(s1.ports.smtp!);
    c.write(`Subject: half\r\n\r\n${'x'.repeat(200)}\r\n`.repeat(2000));
    await new Promise((r) => setTimeout(r, 300));
    await s1.kill('SIGKILL');
    c.close();

    const s2 = await startServe(data);
    try {
      assert.equal(await popStat(s2.ports.pop3!), before);
    } finally {
      await s2.stop();
    }
  });
});
