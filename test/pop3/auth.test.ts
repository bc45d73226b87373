/** Logins: USER/PASS, AUTH PLAIN/LOGIN (RFC 5034), APOP, plain-text refusal, failed-login delays. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { type Logger, silentLogger } from '../../src/core/index.js';
import { LoginDelayPolicy } from '../../src/pop3/index.js';
import { encodePlain } from '../../src/wire/sasl.js';
import { LineClient, play, transcript } from '../support/transcript.js';
import { startServer } from './setup.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('bad password and unknown user get the same -ERR [AUTH]; a good login still works', async () => {
  const { port } = await startServer();
  await transcript(
    port,
    `
    S: +OK *
    C: USER kihyun
    S: +OK Send PASS
    C: PASS wrong
    S: -ERR [AUTH] Authentication failed
    C: USER nobody
    S: +OK Send PASS
    C: PASS kihyun0
    S: -ERR [AUTH] Authentication failed
    C: USER kihyun
    S: +OK *
    C: PASS kihyun0
    S: +OK kihyun@uu.ac.kr has 2 messages (151 octets)
    C: QUIT
    S: +OK *
    `,
  );
});

test('PASS keeps spaces in the password', async () => {
  const { port, backend } = await startServer();
  backend.addAccount('space@uu.ac.kr', 'two words ');
  await transcript(
    port,
    'S: +OK *\nC: USER space@uu.ac.kr\nS: +OK *\nC: PASS two words \nS: +OK space@uu.ac.kr has 0 messages (0 octets)',
  );
});

test('AUTH PLAIN with an initial response, with a continuation, cancelled, malformed', async () => {
  const { port } = await startServer();
  await transcript(
    port,
    `
    S: +OK *
    C: AUTH
    S: +OK SASL mechanisms follow
    S: PLAIN
    S: LOGIN
    S: .
    C: AUTH PLAIN
    S: + 
    C: *
    S: -ERR Authentication cancelled
    C: AUTH PLAIN !!!
    S: -ERR [AUTH] Invalid SASL response: Invalid base64
    C: AUTH PLAIN ${encodePlain('kihyun', 'nope')}
    S: -ERR [AUTH] Authentication failed
    C: AUTH PLAIN ${encodePlain('kihyun', 'kihyun0', 'someone-else')}
    S: -ERR [AUTH] Authentication failed
    C: AUTH CRAM-MD5
    S: -ERR Unsupported SASL mechanism
    C: AUTH PLAIN
    S: + 
    C: ${encodePlain('kihyun', 'kihyun0')}
    S: +OK kihyun@uu.ac.kr has *
    C: QUIT
    S: +OK *
    `,
  );
  await transcript(
    port,
    `
    S: +OK *
    C: auth plain ${encodePlain('kihyun@uu.ac.kr', 'kihyun0', 'kihyun@uu.ac.kr')}
    S: +OK kihyun@uu.ac.kr has *
    C: QUIT
    S: +OK *
    `,
  );
});

test('AUTH LOGIN prompts for user name and password', async () => {
  const { port } = await startServer();
  await transcript(
    port,
    `
    S: +OK *
    C: AUTH LOGIN
    S: + ${b64('Username:')}
    C: ${b64('kihyun')}
    S: + ${b64('Password:')}
    C: ${b64('kihyun0')}
    S: +OK kihyun@uu.ac.kr has *
    C: QUIT
    S: +OK *
    `,
  );
});

test('plain-text logins are refused without TLS from a client that is not trusted', async () => {
  const { port } = await startServer({ isTrustedClient: () => false });
  await transcript(
    port,
    `
    S: +OK *
    C: CAPA
    S: +OK *
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: IMPLEMENTATION Posthorn
    S: .
    C: USER kihyun
    S: -ERR [AUTH] Plain-text login needs TLS; use STLS first
    C: PASS kihyun0
    S: -ERR [AUTH] Plain-text login needs TLS; use STLS first
    C: AUTH PLAIN ${encodePlain('kihyun', 'kihyun0')}
    S: -ERR [AUTH] Plain-text login needs TLS; use STLS first
    C: STAT
    S: -ERR Not allowed before login
    `,
  );
});

test('the trust hook sees the connection; allowPlainAuthWithoutTls overrides it', async () => {
  const seen: string[] = [];
  const { port } = await startServer({
    isTrustedClient: (conn) => {
      seen.push(`${conn.remoteAddress} ${conn.tls}`);
      return false;
    },
    allowPlainAuthWithoutTls: true,
  });
  await transcript(port, 'S: +OK *\nC: USER kihyun\nS: +OK *\nC: PASS kihyun0\nS: +OK *\nC: QUIT\nS: +OK *');
  assert.equal(seen.length, 0);

  const hooked = await startServer({
    isTrustedClient: (conn) => {
      seen.push(`${conn.remoteAddress} ${conn.tls}`);
      return true;
    },
  });
  await transcript(
    hooked.port,
    'S: +OK *\nC: USER kihyun\nS: +OK *\nC: PASS kihyun0\nS: +OK *\nC: QUIT\nS: +OK *',
  );
  assert.deepEqual(seen, ['127.0.0.1 false', '127.0.0.1 false']);
});

test('failed logins slow down per client IP: 0, base, 2·base, capped; each is logged', async () => {
  const logged: Record<string, unknown>[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: ((obj: Record<string, unknown>, msg?: string) => {
      if (msg === 'pop3 login failed') logged.push(obj);
    }) as Logger['warn'],
    child: () => logger,
  };
  const { port } = await startServer({ loginDelay: { baseMs: 100, maxMs: 200 }, logger });
  const c = await LineClient.connect(port);
  await play(c, 'S: +OK *');
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    // A different user name every time: the IP alone drives the delay.
    await play(c, `C: USER u${i}\nS: +OK *\nC: PASS bad${i}\nS: -ERR [AUTH] Authentication failed`);
    times.push(performance.now() - t0);
  }
  c.close();
  assert.deepEqual(
    logged.map((l) => l.delayMs),
    [0, 100, 200, 200],
  );
  assert.deepEqual(
    logged.map((l) => l.user),
    ['u0', 'u1', 'u2', 'u3'],
  );
  assert.ok(!JSON.stringify(logged).includes('bad'), 'no password in the log');
  // Wall-clock lower bounds hold even on a loaded machine.
  assert.ok(times[1]! >= 95 && times[2]! >= 195 && times[3]! >= 195, times.join(', '));
});

test('LoginDelayPolicy: per account too, forgotten after the window and on success', () => {
  let now = 0;
  const p = new LoginDelayPolicy({ baseMs: 1000, maxMs: 4000, windowMs: 60_000 }, () => now);
  assert.equal(p.fail('10.0.0.1', 'kihyun'), 0);
  // Another IP, same account: the account's count drives the delay.
  assert.equal(p.fail('10.0.0.2', 'KIHYUN'), 1000);
  assert.equal(p.fail('10.0.0.3', 'kihyun'), 2000);
  assert.equal(p.fail('10.0.0.4', 'kihyun'), 4000);
  assert.equal(p.fail('10.0.0.5', 'kihyun'), 4000);
  p.succeed('kihyun');
  assert.equal(p.fail('10.0.0.6', 'kihyun'), 0);
  now += 61_000;
  assert.equal(p.fail('10.0.0.1', 'other'), 0);
  const bounded = new LoginDelayPolicy({ maxEntries: 4 }, () => now);
  for (let i = 0; i < 100; i++) bounded.fail(`10.1.0.${i}`, `user${i}`);
  assert.equal(bounded.fail('10.1.0.0', 'user0'), 0, 'evicted entries are forgotten');
});

test('APOP (RFC 1939 §7): off by default; when on, the greeting carries a timestamp', async () => {
  const off = await startServer();
  await transcript(
    off.port,
    'S: +OK Posthorn POP3 server ready\nC: APOP kihyun 0123\nS: -ERR Unknown command',
  );

  const { port } = await startServer({ apop: true });
  const c = await LineClient.connect(port);
  const [greeting] = await play(c, 'S~ ^\\+OK Posthorn POP3 server ready <\\d+\\.\\d+@uu\\.ac\\.kr>$');
  const stamp = /<[^>]+>/.exec(greeting!)![0];
  const digest = createHash('md5').update(`${stamp}kihyun0`).digest('hex');
  await play(
    c,
    `
    C: APOP kihyun 00000000000000000000000000000000
    S: -ERR [AUTH] Authentication failed
    C: APOP kihyun ${digest}
    S: +OK kihyun@uu.ac.kr has *
    C: QUIT
    S: +OK *
    `,
  );
  c.close();
});
