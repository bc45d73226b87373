/**
 * The admin console's view of recent SMTP and POP3 sessions, over real TCP and HTTP:
 * - the whole server (the composition root, with submission, POP3 and the web): an SMTP submission
 *   with AUTH PLAIN and a POP3 USER/PASS/RETR session show up in /api/admin/sessions as C:/S:
 *   lines in order, with the password masked and no message content, and arrive live on the
 *   event stream; non-admins get 403;
 * - the protocol servers' hook on its own: SASL continuation lines (AUTH LOGIN, POP3 AUTH PLAIN),
 *   APOP digests, a credential sent after a refused AUTH, BDAT chunks and over-long lines;
 * - `[web] session_trace = false` keeps nothing.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/index.js';
import { hashPassword } from '../../src/mta/auth/index.js';
import { Pop3Server } from '../../src/pop3/index.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { SmtpServer } from '../../src/smtp/index.js';
import { SessionTrace, type TracedSession, type TraceUpdate } from '../../src/web/index.js';
import { MemoryPop3Backend } from '../support/memory-pop3-backend.js';
import { MemorySmtpBackend } from '../support/memory-smtp-backend.js';
import { tempDir } from '../support/tmp.js';
import { LineClient, play } from '../support/transcript.js';
import { Client } from './support.js';

const PW = { kihyun: 'kihyun-secret-pw', mina: 'mina-secret-pw', root: 'root-secret-pw' };
const BODY_MARK = 'TOPSECRET-BODY-LINE';

/** Every expected line appears, in this order (`*` matches any run of characters). */
function assertInOrder(lines: string[], expected: string[]): void {
  let at = 0;
  for (const pattern of expected) {
    const re = new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    const found = lines.findIndex((l, i) => i >= at && re.test(l));
    assert.ok(found >= 0, `expected ${JSON.stringify(pattern)} after line ${at}\n${lines.join('\n')}`);
    at = found + 1;
  }
}

const transcriptOf = (s: TracedSession) => s.lines.map((l) => `${l.dir}: ${l.text}`);

async function eventually<T>(fn: () => Promise<T | undefined>, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Reads `GET /api/admin/sessions/stream` as the browser's EventSource would. */
function openStream(base: string, cookie: string) {
  const updates: TraceUpdate[] = [];
  const events: string[] = [];
  const abort = new AbortController();
  const done = (async () => {
    const r = await fetch(`${base}/api/admin/sessions/stream`, { headers: { cookie }, signal: abort.signal });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = r.body!.getReader();
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) return;
      buf += Buffer.from(value).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event) events.push(event);
        if (event === 'trace' && data) updates.push(...(JSON.parse(data) as TraceUpdate[]));
      }
    }
  })().catch((err: Error) => {
    if (err.name !== 'AbortError') throw err;
  });
  return { updates, events, close: () => abort.abort(), done };
}

/** The whole server (the composition root, as `posthorn serve` runs it) on 127.0.0.1:0 ports. */
async function startFull(
  data: string,
  toml = '',
): Promise<{ running: RunningServer; ports: Record<string, number> }> {
  const file = join(data, 'posthorn.toml');
  writeFileSync(file, toml);
  const any = '127.0.0.1:0';
  const config = loadConfig({
    config: file,
    data,
    hostname: 'mx.test',
    smtp: any,
    submission: any,
    smtps: 'off',
    pop3: any,
    pop3s: 'off',
    web: any,
  });
  const running = await startServer(config, silentLogger);
  await running.store.domains.add('uu.ac.kr');
  for (const [name, pw] of Object.entries(PW)) {
    await running.store.users.add({
      address: `${name}@uu.ac.kr`,
      passwordHash: await hashPassword(pw),
      isAdmin: name === 'root',
    });
  }
  const ports: Record<string, number> = {};
  for (const [k, v] of Object.entries(running.addresses)) ports[k] = v.port;
  return { running, ports };
}

describe('admin: recent SMTP and POP3 sessions, the whole server', () => {
  let running: RunningServer;
  let ports: Record<string, number>;
  let base: string;
  const data = tempDir();

  before(async () => {
    ({ running, ports } = await startFull(data));
    base = `http://127.0.0.1:${ports.web}`;
  });
  after(() => running?.stop());

  it('shows the C:/S: lines of both sessions, live and afterwards, secrets masked', async () => {
    const root = new Client(base);
    assert.equal((await root.login('root@uu.ac.kr', PW.root)).status, 200);
    const stream = openStream(base, root.cookie);
    await eventually(async () => (stream.events.includes('ready') ? true : undefined), 'the stream');

    const plain = Buffer.from(`\0kihyun@uu.ac.kr\0${PW.kihyun}`).toString('base64');
    const smtp = await LineClient.connect(ports.submission!);
    await play(
      smtp,
      `
      S: 220 *
      C: EHLO client.example
      S* 250 *
      C: AUTH PLAIN ${plain}
      S: 235 2.7.0 *
      C: MAIL FROM:<kihyun@uu.ac.kr>
      S: 250 *
      C: RCPT TO:<mina@uu.ac.kr>
      S: 250 *
      C: DATA
      S: 354 *
      C: From: kihyun@uu.ac.kr
      C: To: mina@uu.ac.kr
      C: Subject: trace me
      C:
      C: ${BODY_MARK}
      C: .
      S: 250 *
      C: QUIT
      S: 221 *
      S: <closed>
      `,
    );
    smtp.close();

    const pop = await LineClient.connect(ports.pop3!);
    await play(
      pop,
      `
      S: +OK *
      C: USER mina@uu.ac.kr
      S: +OK *
      C: PASS ${PW.mina}
      S: +OK mina@uu.ac.kr has 1 message*
      C: RETR 1
      S: +OK * octets
      `,
    );
    for (let l = await pop.readLine(); l !== '.'; l = await pop.readLine()) assert.notEqual(l, undefined);
    await play(pop, 'C: QUIT\nS: +OK *\nS: <closed>');
    pop.close();

    // Afterwards: the list (newest first), then each transcript.
    const ended = await eventually(async () => {
      const r = await root.req('GET', '/api/admin/sessions');
      assert.equal(r.status, 200);
      assert.equal(r.json.enabled, true);
      const s = r.json.sessions as TracedSession[];
      const sub = s.find((x) => x.listener === 'submission' && x.endedAt !== null);
      const p = s.find((x) => x.protocol === 'pop3' && x.endedAt !== null);
      return sub && p ? { sub, p, list: r } : undefined;
    }, 'both sessions to end');
    assert.equal(ended.sub.protocol, 'smtp');
    assert.equal(ended.sub.remoteAddress, '127.0.0.1');
    assert.equal(ended.sub.user, 'kihyun@uu.ac.kr');
    assert.equal(ended.p.user, 'mina@uu.ac.kr');
    assert.equal(ended.p.listener, 'pop3');
    assert.ok(ended.p.startedAt > ended.sub.startedAt);
    assert.equal(ended.list.json.sessions[0].id, ended.p.id, 'newest first');

    const sub = (await root.req('GET', `/api/admin/sessions/${ended.sub.id}`)).json as TracedSession;
    assertInOrder(transcriptOf(sub), [
      'S: 220 mx.test ESMTP Posthorn',
      'C: EHLO client.example',
      'S: 250-mx.test greets client.example',
      'S: 250 *',
      'C: AUTH PLAIN ********',
      'S: 235 2.7.0 Authentication successful',
      'C: MAIL FROM:<kihyun@uu.ac.kr>',
      'S: 250 2.1.0 *',
      'C: RCPT TO:<mina@uu.ac.kr>',
      'S: 250 2.1.5 *',
      'C: DATA',
      'S: 354 *',
      'C: <* bytes of message data>',
      'S: 250 2.0.0 *',
      'C: QUIT',
      'S: 221 2.0.0 *',
    ]);
    assert.ok(sub.lines.every((l) => typeof l.at === 'number' && l.at >= sub.startedAt));
    const dataLine = sub.lines.find((l) => l.text.endsWith('bytes of message data>'))!;
    assert.equal(
      dataLine.text,
      `<${'From: kihyun@uu.ac.kr\r\nTo: mina@uu.ac.kr\r\nSubject: trace me\r\n\r\n'.length + BODY_MARK.length + 2} bytes of message data>`,
    );

    const p = (await root.req('GET', `/api/admin/sessions/${ended.p.id}`)).json as TracedSession;
    assertInOrder(transcriptOf(p), [
      'S: +OK Posthorn POP3 server ready',
      'C: USER mina@uu.ac.kr',
      'S: +OK Send PASS',
      'C: PASS ********',
      'S: +OK mina@uu.ac.kr has 1 message*',
      'C: RETR 1',
      'S: +OK * octets',
      'S: <* bytes of message data>',
      'C: QUIT',
      'S: +OK *',
    ]);

    // Nothing anywhere gives a secret or the content away.
    const everything = JSON.stringify([ended.list.json, sub, p]);
    for (const secret of [PW.kihyun, PW.mina, plain, BODY_MARK, 'trace me']) {
      assert.ok(!everything.includes(secret), `${secret} must not appear`);
    }

    // The live stream saw the same, as it happened.
    await eventually(
      async () => (stream.updates.some((u) => u.type === 'close' && u.id === p.id) ? true : undefined),
      'the stream to report the POP3 session closing',
    );
    stream.close();
    await stream.done;
    const opened = stream.updates.filter((u) => u.type === 'open').map((u) => u.session.id);
    assert.ok(opened.includes(sub.id) && opened.includes(p.id));
    const liveLines = stream.updates.filter(
      (u): u is Extract<TraceUpdate, { type: 'line' }> => u.type === 'line' && u.id === sub.id,
    );
    const live = liveLines.map((u) => `${u.line.dir}: ${u.line.text}`);
    assert.deepEqual(live, transcriptOf(sub), 'the stream carried every line, in order');
    assert.deepEqual(
      liveLines.map((u) => u.n),
      sub.lines.map((_, i) => i + 1),
      'numbered as the session counts them',
    );
    assert.ok(
      stream.updates.some((u) => u.type === 'meta' && u.id === sub.id && u.user === 'kihyun@uu.ac.kr'),
    );
    assert.ok(!JSON.stringify(stream.updates).includes(PW.kihyun));
  });

  it('is for administrators only', async () => {
    const k = new Client(base);
    assert.equal((await k.login('kihyun@uu.ac.kr', PW.kihyun)).status, 200);
    assert.equal((await k.req('GET', '/api/admin/sessions')).status, 403);
    assert.equal((await k.req('GET', '/api/admin/sessions/stream')).status, 403);
    const root = new Client(base);
    await root.login('root@uu.ac.kr', PW.root);
    const id = (await root.req('GET', '/api/admin/sessions')).json.sessions[0].id;
    assert.equal((await k.req('GET', `/api/admin/sessions/${id}`)).status, 403);
    assert.equal((await root.req('GET', '/api/admin/sessions/nope')).status, 404);
    assert.equal((await new Client(base).req('GET', '/api/admin/sessions')).status, 401);
  });
});

describe('the protocol servers’ trace hook', () => {
  it('SMTP: SASL lines, a credential after a refused AUTH, BDAT and long lines', async () => {
    const trace = new SessionTrace({ lineChars: 40 });
    const backend = new MemorySmtpBackend({ passwords: { 'u@example.org': 'sesame-pw' } });
    const server = new SmtpServer({ hostname: 'mx.example.org', backend, onTrace: trace.record });
    const { port } = await server.listen('127.0.0.1', 0);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    try {
      const c = await LineClient.connect(port);
      await play(
        c,
        `
        S: 220 *
        C: AUTH LOGIN
        S: 503 *
        C: ${b64('sesame-pw')}
        S: 500 *
        C: EHLO c.example
        S* 250 *
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C: ${b64('u@example.org')}
        S: 334 UGFzc3dvcmQ6
        C: ${b64('sesame-pw')}
        S: 235 *
        C: MAIL FROM:<u@example.org>
        S: 250 *
        C: RCPT TO:<x@example.org>
        S: 250 *
        C~ BDAT 5 LAST\\r\\nhello
        S: 250 *
        C: NOOP ${'x'.repeat(100)}
        S: 250 *
        C: QUIT
        S: 221 *
        `,
      );
      c.close();
      const s = await eventually(
        async () => (trace.get(trace.list()[0]!.id)?.endedAt ? trace.get(trace.list()[0]!.id) : undefined),
        'close',
      );
      assert.deepEqual(
        transcriptOf(s).filter((l) => l.startsWith('C:')),
        [
          'C: AUTH LOGIN',
          'C: ********',
          'C: EHLO c.example',
          'C: AUTH LOGIN',
          'C: ********',
          'C: ********',
          'C: MAIL FROM:<u@example.org>',
          'C: RCPT TO:<x@example.org>',
          'C: BDAT 5 LAST',
          'C: <5 bytes of message data>',
          `C: NOOP ${'x'.repeat(35)}…`,
          'C: QUIT',
        ],
      );
      assert.ok(transcriptOf(s).includes('S: 334 VXNlcm5hbWU6'), 'server challenges are shown');
      assert.ok(!JSON.stringify(s).includes(b64('sesame-pw')));
      assert.equal(s.user, 'u@example.org');
    } finally {
      await server.close(200);
    }
  });

  it('POP3: AUTH PLAIN continuation, APOP digest, TOP bodies; bounded lines per session', async () => {
    const trace = new SessionTrace({ linesPerSession: 12 });
    const backend = new MemoryPop3Backend();
    backend.addAccount('kim', 'kim-secret-pw');
    backend.deliver('kim', 'Subject: a\r\n\r\nbody one\r\n');
    const server = new Pop3Server({
      hostname: 'uu.ac.kr',
      backend,
      apop: true,
      loginDelay: { baseMs: 20, maxMs: 80 },
      onTrace: trace.record,
    });
    const { port } = await server.listen('127.0.0.1', 0);
    try {
      const c = await LineClient.connect(port);
      const greeting = await c.readLine();
      assert.match(greeting!, /^\+OK .*<.*>$/);
      await play(
        c,
        `
        C: APOP kim 0123456789abcdef0123456789abcdef
        S: -ERR *
        C: AUTH PLAIN
        S: + *
        C: ${Buffer.from('\0kim\0kim-secret-pw').toString('base64')}
        S: +OK *
        C: TOP 1 0
        S: +OK *
        S: Subject: a
        S:
        S: .
        C: QUIT
        S: +OK *
        `,
      );
      c.close();
      const s = await eventually(
        async () => (trace.get(trace.list()[0]!.id)?.endedAt ? trace.get(trace.list()[0]!.id) : undefined),
        'close',
      );
      assert.deepEqual(transcriptOf(s), [
        `S: ${greeting}`,
        'C: APOP kim ********',
        'S: -ERR [AUTH] Authentication failed',
        'C: AUTH PLAIN',
        'S: + ',
        'C: ********',
        'S: +OK kim has 1 message (24 octets)',
        'C: TOP 1 0',
        'S: +OK Top of message follows',
        'S: <14 bytes of message data>',
        'C: QUIT',
        'S: +OK Posthorn POP3 server signing off (1 messages left)',
      ]);
      assert.equal(s.lineCount, 12);
      // One more session of 13+ lines keeps only the newest 12 and counts the rest.
      const d = await LineClient.connect(port);
      await play(
        d,
        'S: +OK *\nC: NOOP\nS: -ERR *\nC: NOOP\nS: -ERR *\nC: NOOP\nS: -ERR *\nC: NOOP\nS: -ERR *\nC: NOOP\nS: -ERR *\nC: NOOP\nS: -ERR *\nC: QUIT\nS: +OK *',
      );
      d.close();
      const t = await eventually(async () => {
        const x = trace.get(trace.list()[0]!.id);
        return x && x.id !== s.id && x.endedAt ? x : undefined;
      }, 'second close');
      assert.equal(t.lineCount, 15);
      assert.equal(t.lines.length, 12);
      assert.equal(t.droppedLines, 3);
      assert.equal(t.lines.at(-1)?.text.startsWith('+OK'), true);
    } finally {
      await server.close();
    }
  });

  it('keeps the newest sessions only', () => {
    const trace = new SessionTrace({ sessions: 2 });
    const conn = (id: string) => ({
      id,
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      localAddress: '127.0.0.1',
      localPort: 25,
      listener: 'smtp',
      tls: false,
      esmtp: false,
    });
    for (const id of ['a', 'b', 'c']) trace.record({ type: 'open', protocol: 'smtp', conn: conn(id) });
    trace.record({ type: 'line', conn: conn('a'), dir: 'C', line: 'late line of a forgotten session' });
    assert.deepEqual(
      trace.list().map((s) => s.id),
      ['c', 'b'],
    );
    assert.equal(trace.get('a'), undefined);
  });
});

describe('[web] session_trace = false', () => {
  it('keeps no transcripts', async () => {
    assert.equal(loadConfig({}, {}).web.sessionTrace, true, 'on by default');
    const { running, ports } = await startFull(tempDir(), '[web]\nsession_trace = false\n');
    try {
      const c = await LineClient.connect(ports.smtp!);
      await play(c, 'S: 220 *\nC: QUIT\nS: 221 *');
      c.close();
      const root = new Client(`http://127.0.0.1:${ports.web}`);
      assert.equal((await root.login('root@uu.ac.kr', PW.root)).status, 200);
      const r = await root.req('GET', '/api/admin/sessions');
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { enabled: false, sessions: [] });
    } finally {
      await running.stop();
    }
  });
});
