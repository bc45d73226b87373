/** The account-lookup cache: values are copies both ways, misses are cached, invalidation wins races. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadCache } from '../../src/store/read-cache.js';

test('a cached value is a deep copy: changing what a caller got changes nothing cached', () => {
  const cache = new ReadCache(60_000);
  let loads = 0;
  const load = () => {
    loads++;
    return { id: 1, createdAt: new Date(5), forward: { targets: ['a@x.test'], keep: true }, tags: [[1]] };
  };
  const first = cache.getSync('u:1', load);
  first.forward.targets.push('evil@x.test');
  first.createdAt.setTime(99);
  first.tags[0]!.push(2);
  const second = cache.getSync('u:1', load);
  assert.equal(loads, 1);
  assert.deepEqual(second, {
    id: 1,
    createdAt: new Date(5),
    forward: { targets: ['a@x.test'], keep: true },
    tags: [[1]],
  });
  assert.notEqual(second, cache.getSync('u:1', load), 'each hit is a fresh copy');
});

test('misses are cached; invalidate() empties; a load racing an invalidation is not stored', async () => {
  const cache = new ReadCache(60_000);
  let loads = 0;
  const missing = (): undefined => {
    loads++;
    return undefined;
  };
  assert.equal(cache.getSync('u:none', missing), undefined);
  assert.equal(cache.getSync('u:none', missing), undefined);
  assert.equal(loads, 1);
  cache.invalidate();
  cache.getSync('u:none', missing);
  assert.equal(loads, 2);

  let release!: () => void;
  const slow = cache.get('a:1', () => new Promise<string[]>((r) => (release = () => r(['old']))));
  cache.invalidate();
  release();
  assert.deepEqual(await slow, ['old']);
  assert.deepEqual(await cache.get('a:1', async () => ['new']), ['new']);
});
