import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  Base64Decoder,
  createDecoder,
  createDecodeStream,
  createEncoder,
  createEncodeStream,
  decodeTransferEncoding,
  encodeTransferEncoding,
  QpDecoder,
  QpEncoder,
} from '../../../src/mime/entity/encoding/index.js';

/** Feeds `data` to a codec in the given chunk sizes (cycled). */
function feed(codec: { push(c: Uint8Array): Buffer; end(): Buffer }, data: Buffer, sizes: number[]): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  let k = 0;
  while (i < data.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    out.push(codec.push(data.subarray(i, i + n)));
    i += n;
  }
  out.push(codec.end());
  return Buffer.concat(out);
}

const lines = (s: Buffer) => s.toString('latin1').split('\r\n');

test('base64: RFC 4648 §10 test vectors both ways', () => {
  const vectors = ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'];
  const encoded = ['', 'Zg==', 'Zm8=', 'Zm9v', 'Zm9vYg==', 'Zm9vYmE=', 'Zm9vYmFy'];
  vectors.forEach((v, i) => {
    const e = encodeTransferEncoding(Buffer.from(v), 'base64').toString('latin1');
    assert.equal(e, encoded[i] ? `${encoded[i]}\r\n` : '');
    const d = decodeTransferEncoding(Buffer.from(encoded[i]!), 'base64');
    assert.equal(d.data.toString(), v);
    assert.deepEqual(d.defects, []);
  });
});

test('base64 encoder: 76-character CRLF lines (RFC 2045 §6.8)', () => {
  const out = encodeTransferEncoding(Buffer.alloc(1000, 7), 'base64');
  const ls = lines(out);
  assert.equal(ls.pop(), '');
  assert.ok(ls.slice(0, -1).every((l) => l.length === 76));
  assert.ok(ls.at(-1)!.length <= 76);
});

test('base64 decoder tolerates damage and records defects', () => {
  const cases: [string, string, string[]][] = [
    ['Zm9v\r\nYmFy', 'foobar', []],
    ['Zm 9v\tYm\nFy', 'foobar', []],
    ['Zm9vYg', 'foob', ['InvalidBase64Padding']],
    ['Zm9vYmE', 'fooba', ['InvalidBase64Padding']],
    ['Zm9v!Ym*Fy', 'foobar', ['InvalidBase64Characters']],
    ['Zg==Zm8=', 'ffo', []], // concatenated padded blocks (seen from some gateways)
    ['Zm9vY', 'foo', ['InvalidBase64Length']],
    ['Zm9v_-8', 'foo\xff\xef', ['InvalidBase64Padding']], // base64url alphabet
  ];
  for (const [input, want, defects] of cases) {
    const r = decodeTransferEncoding(Buffer.from(input), 'base64');
    assert.equal(r.data.toString('latin1'), want, input);
    assert.deepEqual(
      r.defects.map((d) => d.type),
      defects,
      input,
    );
  }
});

test('quoted-printable decoder: RFC 2045 §6.7 rules and real-world leniency', () => {
  const cases: [string, string, string[]][] = [
    ['Now=20is the time=\r\nfor all', 'Now is the time for all'.replace(' for', 'for'), []],
    ['a=3D=3db', 'a==b', []], // lowercase hex accepted
    ['trailing   \r\nnext', 'trailing\r\nnext', []], // rule 3: transport whitespace deleted
    ['soft=  \r\nbreak', 'softbreak', []], // whitespace after a soft break
    ['lf only=\nsoft\nhard', 'lf onlysoft\nhard', []],
    ['bad =XY and =\x00', 'bad =XY and =\x00', ['InvalidQuotedPrintable']],
    ['end with =', 'end with ', []],
    ['=E2=82=AC', '\xe2\x82\xac', []],
  ];
  for (const [input, want, defects] of cases) {
    const r = decodeTransferEncoding(Buffer.from(input, 'latin1'), 'quoted-printable');
    assert.equal(r.data.toString('latin1'), want, JSON.stringify(input));
    assert.deepEqual(
      r.defects.map((d) => d.type),
      defects,
      input,
    );
  }
});

test('quoted-printable encoder: line length, trailing space, dot and From lines', () => {
  const text = Buffer.from(`${'x'.repeat(200)}\r\n.hidden\r\nFrom me\r\ntab\t\r\nend `, 'utf8');
  const out = encodeTransferEncoding(text, 'quoted-printable');
  for (const l of lines(out)) {
    assert.ok(l.length <= 76, l);
    assert.ok(!l.startsWith('.') && !l.startsWith('From '), l);
    assert.ok(!/[ \t]$/.test(l), `trailing whitespace in ${JSON.stringify(l)}`);
  }
  assert.match(out.toString(), /^=2Ehidden\r$/m);
  assert.match(out.toString(), /tab=09\r\n/);
  assert.ok(out.toString().endsWith('end=20'));
  assert.deepEqual(decodeTransferEncoding(out, 'quoted-printable').data, text);
});

test('quoted-printable binary mode encodes CR and LF', () => {
  const data = Buffer.from([0x0d, 0x0a, 0x0a, 0x0d, 0x41]);
  const out = encodeTransferEncoding(data, 'quoted-printable', { binary: true });
  assert.equal(out.toString(), '=0D=0A=0A=0DA');
  assert.deepEqual(decodeTransferEncoding(out, 'quoted-printable').data, data);
});

// Text mode: CRLF and bare LF are hard breaks (written CRLF); a bare CR is data (=0D).
test('exhaustive: every string of length ≤ 5 over a tricky alphabet round-trips through QP', () => {
  const alphabet = [0x61, 0x20, 0x3d, 0x0d, 0x0a, 0x2e, 0xff, 0x09];
  const text = (b: Buffer) => b.toString('latin1').replace(/(?<!\r)\n/g, '\r\n');
  let count = 0;
  const visit = (prefix: number[]) => {
    const data = Buffer.from(prefix);
    const bin = encodeTransferEncoding(data, 'quoted-printable', { binary: true });
    assert.deepEqual(decodeTransferEncoding(bin, 'quoted-printable').data, data);
    const txt = encodeTransferEncoding(data, 'quoted-printable');
    assert.equal(decodeTransferEncoding(txt, 'quoted-printable').data.toString('latin1'), text(data));
    count++;
    if (prefix.length < 5) for (const c of alphabet) visit([...prefix, c]);
  };
  visit([]);
  assert.equal(count, (8 ** 6 - 1) / 7);
});

test('property: any bytes, any chunking, encoder and decoder round-trip', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 3000 }),
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }),
      (bytes, encSizes, decSizes) => {
        const data = Buffer.from(bytes);
        const b64 = feed(createEncoder('base64'), data, encSizes);
        assert.deepEqual(feed(new Base64Decoder(), b64, decSizes), data);
        assert.ok(lines(b64).every((l) => l.length <= 76));
        const qp = feed(new QpEncoder({ binary: true }), data, encSizes);
        assert.deepEqual(feed(new QpDecoder(), qp, decSizes), data);
        assert.ok(lines(qp).every((l) => l.length <= 76));
      },
    ),
    { numRuns: 300 },
  );
});

test('property: text with CRLF keeps hard breaks through QP in any chunking', () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: 'grapheme', maxLength: 120 }), { maxLength: 20 }),
      fc.integer({ min: 1, max: 50 }),
      (ls, size) => {
        const data = Buffer.from(ls.map((l) => l.replace(/[\r\n]/g, '')).join('\r\n'));
        const qp = feed(new QpEncoder(), data, [size]);
        assert.ok(lines(qp).every((l) => l.length <= 76));
        assert.deepEqual(feed(createDecoder('Quoted-Printable'), qp, [size + 3]), data);
      },
    ),
    { numRuns: 200 },
  );
});

test('QP decoder handles a 1 MB line without line ends incrementally', () => {
  const enc = Buffer.from('=41'.repeat(400_000));
  const d = new QpDecoder();
  let got = 0;
  for (let i = 0; i < enc.length; i += 65536) got += d.push(enc.subarray(i, i + 65536)).length;
  got += d.end().length;
  assert.equal(got, 400_000);
});

test('unknown transfer encoding passes bytes through with a defect', () => {
  const r = decodeTransferEncoding(Buffer.from('abc'), 'x-uuencode');
  assert.equal(r.data.toString(), 'abc');
  assert.deepEqual(
    r.defects.map((d) => d.type),
    ['UnknownTransferEncoding'],
  );
  for (const name of ['7bit', '8BIT', 'Binary', undefined, '']) {
    assert.deepEqual(decodeTransferEncoding(Buffer.from('\xff\r\n', 'latin1'), name).defects, []);
  }
});

test('Transform streams: encode then decode a 1 MiB stream', async () => {
  const data = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
  for (const enc of ['base64', 'quoted-printable'] as const) {
    const out: Buffer[] = [];
    const sink = createDecodeStream(enc);
    sink.on('data', (c: Buffer) => out.push(c));
    await pipeline(
      Readable.from([data.subarray(0, 333), data.subarray(333)]),
      createEncodeStream(enc, { binary: true }),
      sink,
    );
    assert.deepEqual(Buffer.concat(out), data, enc);
    assert.deepEqual(sink.defects, []);
  }
});
