/**
 * The course's demo, end to end against the real program: an administrator adds uu.ac.kr and
 * kihyun, a message is typed into port 25 by hand, and kihyun downloads it over POP3 — the exact
 * bytes sent, after the trace headers Posthorn prepends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliOk, type ServerProcess, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';
import { LineClient, play, transcript } from '../support/transcript.js';

describe('the textbook session (SMTP on 25, POP3 on 110)', () => {
  let server: ServerProcess;
  const data = tempDir();

  before(async () => {
    await cliOk(['domain', 'add', 'uu.ac.kr', '--data', data]);
    await cliOk(['user', 'add', 'kihyun@uu.ac.kr', '--password', 'kihyun0', '--data', data]);
    server = await startServe(data, ['--hostname', 'uu.ac.kr']);
  });
  after(() => server?.stop());

  it('accepts a message typed by hand and serves it over POP3 byte for byte', async () => {
    await transcript(
      server.ports.smtp!,
      `
      S: 220 uu.ac.kr ESMTP Posthorn
      C: HELO client.example.org
      S: 250 uu.ac.kr*
      C: MAIL FROM:<sender@example.org>
      S: 250 2.1.0 *
      C: RCPT TO:<kihyun@uu.ac.kr>
      S: 250 2.1.5 *
      C: DATA
      S: 354 *
      C: From: sender@example.org
      C: To: kihyun@uu.ac.kr
      C: Date: Thu, 26 Nov 2026 10:00:00 +0900
      C: Subject: hello
      C:
      C: Hello kihyun,
      C: ..this line starts with a dot.
      C: .
      S: 250 2.0.0 *
      C: QUIT
      S: 221 2.0.0 *
      S: <closed>
      `,
    );

    const pop = await LineClient.connect(server.ports.pop3!);
    try {
      await play(
        pop,
        `
        S: +OK*
        C: USER kihyun
        S: +OK*
        C: PASS kihyun0
        S: +OK*
        C: STAT
        S~ ^\\+OK 1 \\d+$
        C: LIST
        S~ ^\\+OK
        S~ ^1 \\d+$
        S: .
        C: RETR 1
        S~ ^\\+OK
        S: Return-Path: <sender@example.org>
        S: Received: from client.example.org ([127.0.0.1])
        S~ ^\\tby uu\\.ac\\.kr \\(Posthorn\\) with SMTP id \\S+$
        S: \tfor <kihyun@uu.ac.kr>;
        S~ ^\\t\\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}$
        S: From: sender@example.org
        S: To: kihyun@uu.ac.kr
        S: Date: Thu, 26 Nov 2026 10:00:00 +0900
        S: Subject: hello
        S:
        S: Hello kihyun,
        S: ..this line starts with a dot.
        S: .
        C: DELE 1
        S: +OK*
        C: QUIT
        S: +OK*
        S: <closed>
        `,
      );
    } finally {
      pop.close();
    }
    // The size STAT announced is the exact number of octets RETR sent (before byte-stuffing).
    const stat = pop.log.find((l) => l.startsWith('S: +OK 1 '))!;
    const size = Number(stat.split(' ')[3]);
    const retr = pop.log.slice(pop.log.indexOf('S: Return-Path: <sender@example.org>'));
    const body = retr.slice(0, retr.indexOf('S: .')).map((l) => l.slice(3).replace(/^\.\./, '.'));
    assert.equal(size, Buffer.byteLength(`${body.join('\r\n')}\r\n`, 'latin1'));

    // DELE took effect in UPDATE: the maildrop is empty now.
    await transcript(
      server.ports.pop3!,
      `
      S: +OK*
      C: USER kihyun@uu.ac.kr
      S: +OK*
      C: PASS kihyun0
      S: +OK*
      C: STAT
      S: +OK 0 0
      C: QUIT
      S: +OK*
      `,
    );
  });

  it('refuses relaying and unknown users', async () => {
    await transcript(
      server.ports.smtp!,
      `
      S: 220 *
      C: HELO client.example.org
      S: 250 *
      C: MAIL FROM:<sender@example.org>
      S: 250 *
      C: RCPT TO:<someone@elsewhere.example>
      S: 554 5.7.1 *
      C: RCPT TO:<nobody@uu.ac.kr>
      S: 550 5.1.1 *
      C: QUIT
      S: 221 *
      `,
    );
  });
});
