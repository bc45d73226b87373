import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HopCounter } from '../../src/mta/inbound/submission.js';

const trace = 'Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n';
const message = `${trace.repeat(50)}Subject: loop\r\n\r\nReceived: in the body is not a hop\r\n`;

/** Pushes `text` in pieces of `size` octets, all through one buffer the caller overwrites. */
function count(text: string, size: number): number {
  const bytes = Buffer.from(text, 'latin1');
  const reused = Buffer.alloc(size);
  const h = new HopCounter();
  for (let at = 0; at < bytes.length; at += size) {
    const n = bytes.copy(reused, 0, at, at + size);
    h.push(reused.subarray(0, n));
  }
  return h.hops;
}

test('HopCounter: counts the Received fields of the header block only, however the bytes arrive', () => {
  for (const size of [1, 7, 37, 64, 1000, message.length])
    assert.equal(count(message, size), 50, `pieces of ${size}`);
  assert.equal(count('Subject: none\r\n\r\nReceived: x\r\n', 5), 0);
  assert.equal(count('received : from a\r\nX-Received: b\r\n\r\n', 3), 1);
});
