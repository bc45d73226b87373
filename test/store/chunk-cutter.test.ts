import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ChunkCutter } from '../../src/store/chunk-cutter.js';

test('cuts any write pattern into exact chunks, copies the input, hashes and counts it', () => {
  const data = randomBytes(10_000);
  for (const step of [1, 7, 64, 999, 1000, 4096, 10_000]) {
    const cutter = new ChunkCutter(1000);
    const chunks: Uint8Array[] = [];
    for (let off = 0; off < data.length; off += step) {
      const piece = Buffer.from(data.subarray(off, off + step));
      cutter.push(piece, (c) => chunks.push(c));
      piece.fill(0); // the caller reuses its buffer: what was pushed must not change
    }
    const rest = cutter.rest();
    if (rest) chunks.push(rest);
    assert.ok(
      chunks.slice(0, -1).every((c) => c.byteLength === 1000),
      `step ${step}: full chunks`,
    );
    assert.ok(
      chunks.every((c) => c.byteOffset === 0 && c.buffer.byteLength === c.byteLength),
      'transferable',
    );
    assert.deepEqual(Buffer.concat(chunks), data, `step ${step}: same bytes`);
    assert.equal(cutter.size, data.length);
    assert.equal(cutter.digest(), createHash('sha256').update(data).digest('hex'));
  }
});

test('chunks larger than the first buffer: grown while filling, exact and unchanged afterwards', () => {
  const data = randomBytes(250_000);
  for (const step of [1, 4096, 33_333, 250_000]) {
    const cutter = new ChunkCutter(100_000);
    const chunks: Uint8Array[] = [];
    for (let off = 0; off < data.length; off += step) {
      cutter.push(data.subarray(off, off + step), (c) => chunks.push(c));
    }
    chunks.push(cutter.rest()!);
    assert.deepEqual(
      chunks.map((c) => c.byteLength),
      [100_000, 100_000, 50_000],
      `step ${step}`,
    );
    assert.ok(chunks.every((c) => c.byteOffset === 0 && c.buffer.byteLength === c.byteLength));
    assert.deepEqual(Buffer.concat(chunks), data, `step ${step}: same bytes`);
    assert.equal(cutter.rest(), null, 'nothing left after rest()');
  }
});
