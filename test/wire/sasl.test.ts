import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSaslServer, decodePlain, encodeLogin, encodePlain, isBase64 } from '../../src/wire/sasl.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

test('RFC 4616 §4 examples decode', () => {
  assert.deepEqual(decodePlain(b64('\0tim\0tanstaaftanstaaf')), {
    type: 'success',
    credentials: { authzid: '', authcid: 'tim', password: 'tanstaaftanstaaf' },
  });
  assert.deepEqual(decodePlain(b64('Ursel\0Kurt\0xipj3plmq')), {
    type: 'success',
    credentials: { authzid: 'Ursel', authcid: 'Kurt', password: 'xipj3plmq' },
  });
});

test('PLAIN keeps UTF-8 and spaces in passwords; encodePlain round-trips', () => {
  const enc = encodePlain('김기현@uu.ac.kr', 'pass word ü');
  assert.deepEqual(decodePlain(enc), {
    type: 'success',
    credentials: { authzid: '', authcid: '김기현@uu.ac.kr', password: 'pass word ü' },
  });
  assert.throws(() => encodePlain('a\0b', 'x'), /NUL/);
  assert.throws(() => encodePlain('a', 'x'.repeat(256)), /too long/);
});

test('PLAIN rejects malformed input with a failure step, never a throw', () => {
  const cases = [
    'not base64!',
    'AAA', // not a multiple of 4
    b64('tim\0pass'), // one NUL
    b64('\0tim\0pass\0extra'), // three NULs
    b64('\0\0pass'), // empty authcid
    b64('\0tim\0'), // empty password
    Buffer.from([0, 0x74, 0, 0xff, 0xfe]).toString('base64'), // invalid UTF-8
    b64(`\0${'u'.repeat(256)}\0p`), // authcid over 255 octets
  ];
  for (const c of cases) {
    const step = decodePlain(c);
    assert.equal(step.type, 'failure', c);
    assert.equal(step.type === 'failure' && step.reason, 'malformed', c);
  }
});

test('isBase64 is strict', () => {
  for (const ok of ['', 'AA==', 'AAA=', 'AAAA', 'a+/9']) assert.ok(isBase64(ok), ok);
  for (const bad of ['A', 'AA=', 'A===', 'AA AA', 'AA\r\n', '=AAA', 'AA-_']) assert.ok(!isBase64(bad), bad);
});

test('PLAIN server: initial response, empty initial response "=", continuation, cancel', () => {
  const direct = createSaslServer('plain')!;
  assert.equal(direct.mechanism, 'PLAIN');
  assert.equal(direct.start(encodePlain('tim', 'x')).type, 'success');

  const cont = createSaslServer('PLAIN')!;
  assert.deepEqual(cont.start(), { type: 'challenge', data: '' });
  const done = cont.respond(encodePlain('tim', 'x'));
  assert.equal(done.type === 'success' && done.credentials.authcid, 'tim');
  assert.equal(cont.respond(encodePlain('tim', 'x')).type, 'failure');

  const empty = createSaslServer('PLAIN')!;
  assert.equal(empty.start('=').type, 'failure');

  const cancelled = createSaslServer('PLAIN')!;
  cancelled.start();
  assert.deepEqual(cancelled.respond('*'), {
    type: 'failure',
    reason: 'cancelled',
    message: 'Authentication cancelled',
  });
});

test('LOGIN server: Username:/Password: prompts, optional initial user name, cancel', () => {
  const s = createSaslServer('LOGIN')!;
  const first = s.start();
  assert.equal(first.type === 'challenge' && Buffer.from(first.data, 'base64').toString(), 'Username:');
  const second = s.respond(encodeLogin('kihyun'));
  assert.equal(second.type === 'challenge' && Buffer.from(second.data, 'base64').toString(), 'Password:');
  assert.deepEqual(s.respond(encodeLogin('kihyun0')), {
    type: 'success',
    credentials: { authzid: '', authcid: 'kihyun', password: 'kihyun0' },
  });

  const initial = createSaslServer('LOGIN')!;
  assert.equal(initial.start(encodeLogin('kihyun')).type, 'challenge');
  assert.equal(initial.respond(encodeLogin('kihyun0')).type, 'success');

  const bad = createSaslServer('LOGIN')!;
  bad.start();
  assert.equal(bad.respond('%%%').type, 'failure');

  const nul = createSaslServer('LOGIN')!;
  nul.start();
  assert.equal(nul.respond(Buffer.from('a\0b').toString('base64')).type, 'failure');

  const cancel = createSaslServer('LOGIN')!;
  cancel.start();
  const c = cancel.respond('*');
  assert.equal(c.type === 'failure' && c.reason, 'cancelled');
});

test('unknown mechanisms are not created', () => {
  assert.equal(createSaslServer('CRAM-MD5'), undefined);
  assert.equal(createSaslServer(''), undefined);
});
