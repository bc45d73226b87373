/**
 * The client's body path: CRLF canonicalisation across chunk boundaries (exhaustive over a tiny
 * alphabet), DATA dot-stuffing checked by the shared receiving decoder, and a 25 MiB message
 * streamed over real TCP with bounded buffering (backpressure).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { CrlfNormalizer, SmtpClient } from '../../../src/smtp/client/index.js';
import { DotDecoder } from '../../../src/wire/dot-decoder.js';
import { fakeServer } from './fake-server.js';

/** The reference: every CRLF, bare CR and bare LF becomes CRLF. */
const canonical = (s: string) => s.replace(/\r\n|\r|\n/g, '\r\n');

function normalise(parts: string[]): string {
  const n = new CrlfNormalizer();
  const out = parts.map((p) => n.push(Buffer.from(p, 'latin1')).toString('latin1'));
  return out.join('') + n.end().toString('latin1');
}

test('CrlfNormalizer: every string over {a, CR, LF, .} up to 6 octets, split at every point', () => {
  const alphabet = ['a', '\r', '\n', '.'];
  let cases = 0;
  const walk = (s: string) => {
    const want = canonical(s);
    assert.equal(normalise([s]), want, JSON.stringify(s));
    for (let i = 0; i <= s.length; i++) {
      for (let j = i; j <= s.length; j++) {
        assert.equal(normalise([s.slice(0, i), s.slice(i, j), s.slice(j)]), want, JSON.stringify([s, i, j]));
        cases++;
      }
    }
    if (s.length < 6) for (const c of alphabet) walk(s + c);
  };
  walk('');
  assert.ok(cases > 20_000);
});

test('CrlfNormalizer: one octet at a time gives the same bytes', () => {
  const s = 'a\r\r\n\n\r.\r\n\n.b\r';
  assert.equal(normalise([...s]), canonical(s));
});

test('DATA over TCP: what the client stuffs, the shared receiving decoder reads back as the canonical message', async () => {
  const bodies = [
    '.\r\n',
    '..\n.\n.x\r\n',
    'a\r\n.\r\nMAIL FROM:<evil@x.test>\r\n',
    'line\n.\nsmuggled\n',
    'no final newline.',
    '\r\n.\r\n',
    '',
  ];
  const script = bodies
    .map(
      () => `C: MAIL FROM:<a@example.org>
    S: 250 OK
    C: RCPT TO:<b@example.net>
    S: 250 OK
    C: DATA
    S: 354 go
    C: <data>
    S: 250 OK`,
    )
    .join('\n');
  const fake = await fakeServer(
    `S: 220 mx.test\nC: EHLO client.test\nS: 250 mx.test\n${script}\nC: QUIT\nS: 221 bye`,
  );
  const c = await SmtpClient.connect({
    host: '127.0.0.1',
    port: fake.port,
    tls: 'none',
    localName: 'client.test',
  });
  for (const b of bodies) {
    // Split the body into one-octet chunks so every boundary case is exercised on the wire.
    const chunks = [...Buffer.from(b, 'latin1')].map((x) => Buffer.from([x]));
    assert.equal(
      (await c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, Readable.from(chunks))).ok,
      true,
    );
  }
  await c.quit();
  const [conv] = await fake.settled();
  assert.deepEqual(conv!.errors, []);
  bodies.forEach((b, i) => {
    const wire = conv!.bodies[i]!;
    const d = new DotDecoder();
    const r = d.push(wire);
    assert.equal(r.done, true, JSON.stringify(b));
    assert.equal(r.rest?.length ?? 0, 0);
    let want = canonical(b);
    if (want !== '' && !want.endsWith('\r\n')) want += '\r\n';
    assert.equal(Buffer.concat(r.chunks).toString('latin1'), want, JSON.stringify(b));
  });
});

test('25 MiB body streamed with backpressure: bounded lead over the server, exact bytes on the wire', async () => {
  const TOTAL_LINES = 416 * 1024; // 62-63 octets each in the source: a little over 25 MiB
  const line = (i: number) => {
    const text = `${i % 5 === 0 ? '.' : ''}${String(i).padStart(8, '0')} `.padEnd(62, 'x');
    return { text, ending: i % 2 === 0 ? '\n' : '\r\n' };
  };
  // The expected wire bytes, computed line by line from the construction (never held whole).
  const want = createHash('sha256');
  let wantOctets = 0;
  for (let i = 0; i < TOTAL_LINES; i++) {
    const { text } = line(i);
    const w = `${text.startsWith('.') ? '.' : ''}${text}\r\n`;
    want.update(w, 'latin1');
    wantOctets += w.length;
  }
  want.update('.\r\n');
  wantOctets += 3;

  const fake = await fakeServer(
    `S: 220 mx.test\nC: EHLO client.test\nS: 250 mx.test\nC: MAIL FROM:<a@example.org>\nS: 250 OK
     C: RCPT TO:<b@example.net>\nS: 250 OK\nC: DATA\nS: 354 go\nC: <data>\nS: 250 OK\nC: QUIT\nS: 221 bye`,
    { hashBodies: true },
  );
  let produced = 0;
  let maxLead = 0;
  let sourceOctets = 0;
  async function* source() {
    const batch: string[] = [];
    for (let i = 0; i < TOTAL_LINES; i++) {
      const { text, ending } = line(i);
      batch.push(text + ending);
      if (batch.length === 1024 || i === TOTAL_LINES - 1) {
        const chunk = Buffer.from(batch.join(''), 'latin1');
        batch.length = 0;
        sourceOctets += chunk.length;
        produced += chunk.length;
        maxLead = Math.max(maxLead, produced - fake.received());
        yield chunk;
      }
    }
  }
  const c = await SmtpClient.connect({
    host: '127.0.0.1',
    port: fake.port,
    tls: 'none',
    localName: 'client.test',
  });
  const r = await c.send({ from: 'a@example.org', recipients: ['b@example.net'] }, Readable.from(source()));
  await c.quit();
  const [conv] = await fake.settled();
  assert.deepEqual(conv!.errors, []);
  assert.ok(sourceOctets > 25 * 1024 * 1024, `only ${sourceOctets} octets`);
  assert.equal(r.octets, TOTAL_LINES * 64);
  assert.deepEqual(conv!.hashes[0], { sha256: want.digest('hex'), octets: wantOctets });
  // The source may run ahead of the server only by what the socket and kernel buffers hold
  // (loopback kernel buffers are a few MiB); without backpressure it would be the whole 25 MiB.
  assert.ok(maxLead < 12 * 1024 * 1024, `source ran ${maxLead} octets ahead of the server`);
});
