import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveSet } from '../../src/core/index.js';

test('LiveSet: add, has, delete and size behave like a Set of identities', () => {
  const s = new LiveSet<{ n: number }>();
  const items = Array.from({ length: 10 }, (_, n) => ({ n }));
  for (const i of items) s.add(i);
  s.add(items[3]!); // twice: still once
  assert.equal(s.size, 10);
  assert.equal(s.has({ n: 3 }), false);
  assert.equal(s.delete(items[0]!), true);
  assert.equal(s.delete(items[0]!), false);
  assert.equal(s.delete(items[9]!), true); // the last one
  assert.equal(s.delete(items[4]!), true); // one in the middle
  assert.equal(s.size, 7);
  assert.deepEqual(
    [...s].map((i) => i.n).sort((a, b) => a - b),
    [1, 2, 3, 5, 6, 7, 8],
  );
  for (const n of [1, 2, 3, 5, 6, 7, 8]) assert.equal(s.has(items[n]!), true, `has ${n}`);
  for (const n of [0, 4, 9]) assert.equal(s.has(items[n]!), false, `not ${n}`);
  s.add(items[4]!);
  assert.equal(s.has(items[4]!), true);
  assert.equal(s.size, 8);
});

test('LiveSet: members may leave while the set is iterated; an object may be in two sets', () => {
  const a = new LiveSet<object>();
  const b = new LiveSet<object>();
  const items = Array.from({ length: 5 }, () => ({}));
  for (const i of items) {
    a.add(i);
    b.add(i);
  }
  let seen = 0;
  for (const i of a) {
    a.delete(i);
    seen++;
  }
  assert.equal(seen, 5);
  assert.equal(a.size, 0);
  assert.equal(b.size, 5);
  for (const i of items) assert.equal(b.has(i), true);
});
