import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Authenticator, hashPassword, verifyPassword } from '../../src/mta/auth/index.js';
import { resolveRecipient } from '../../src/mta/inbound/recipients.js';
import { createMemoryStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';

describe('recipient resolution', () => {
  let store: Store;
  before(async () => {
    store = createMemoryStore();
    await store.domains.add('uu.ac.kr');
    await store.domains.add('other.test');
    for (const a of ['kihyun@uu.ac.kr', 'boss@uu.ac.kr', 'kihyun@other.test']) {
      await store.users.add({ address: a, passwordHash: 'x', isAdmin: a.startsWith('boss') });
    }
    await store.aliases.add('team@uu.ac.kr', ['kihyun@uu.ac.kr', 'boss@uu.ac.kr']);
    await store.aliases.add('all@uu.ac.kr', ['team@uu.ac.kr', 'kihyun@uu.ac.kr']);
    await store.aliases.add('loop1@uu.ac.kr', ['loop2@uu.ac.kr']);
    await store.aliases.add('loop2@uu.ac.kr', ['loop1@uu.ac.kr']);
  });

  const users = async (a: string) => {
    const r = await resolveRecipient(store, a);
    return r.kind === 'local' ? r.users.map((u) => u.address).sort() : r.kind;
  };

  it('finds users case-insensitively and by sub-address', async () => {
    assert.deepEqual(await users('kihyun@uu.ac.kr'), ['kihyun@uu.ac.kr']);
    assert.deepEqual(await users('KIHYUN@UU.AC.KR'), ['kihyun@uu.ac.kr']);
    assert.deepEqual(await users('kihyun+lists@uu.ac.kr'), ['kihyun@uu.ac.kr']);
  });

  it('expands nested aliases once per user and survives loops', async () => {
    assert.deepEqual(await users('all@uu.ac.kr'), ['boss@uu.ac.kr', 'kihyun@uu.ac.kr']);
    assert.equal(await users('loop1@uu.ac.kr'), 'unknown');
  });

  it('tells unknown local users from other domains, and routes postmaster to admins', async () => {
    assert.equal(await users('nobody@uu.ac.kr'), 'unknown');
    assert.equal(await users('someone@example.org'), 'remote');
    assert.deepEqual(await users('postmaster@uu.ac.kr'), ['boss@uu.ac.kr']);
    assert.deepEqual(await users('Postmaster@uu.ac.kr'), ['boss@uu.ac.kr']);
  });
});

describe('authenticator', () => {
  let store: Store;
  before(async () => {
    store = createMemoryStore();
    await store.domains.add('uu.ac.kr');
    await store.domains.add('other.test');
    await store.domains.add('solo.test');
    await store.users.add({ address: 'kihyun@uu.ac.kr', passwordHash: await hashPassword('kihyun0') });
    await store.users.add({ address: 'kihyun@other.test', passwordHash: await hashPassword('other0') });
    await store.users.add({ address: 'mina@solo.test', passwordHash: await hashPassword('mina0') });
  });

  it('hashes with scrypt and verifies', async () => {
    const h = await hashPassword('kihyun0');
    assert.match(h, /^scrypt\$32768\$8\$1\$/);
    assert.notEqual(h, await hashPassword('kihyun0'), 'salted');
    assert.equal(await verifyPassword('kihyun0', h), true);
    assert.equal(await verifyPassword('kihyun1', h), false);
    assert.equal(await verifyPassword('kihyun0', 'garbage'), false);
  });

  it('accepts full addresses and unambiguous bare local parts', async () => {
    const auth = new Authenticator(store, { defaultDomain: 'uu.ac.kr' });
    assert.equal(await auth.authenticate('kihyun@uu.ac.kr', 'kihyun0'), 'kihyun@uu.ac.kr');
    assert.equal(await auth.authenticate('kihyun', 'kihyun0'), 'kihyun@uu.ac.kr', 'default domain wins');
    assert.equal(await auth.authenticate('mina', 'mina0'), 'mina@solo.test', 'only one mina');
    assert.equal(await auth.authenticate('kihyun', 'other0'), undefined);
    assert.equal(await auth.authenticate('kihyun@other.test', 'other0'), 'kihyun@other.test');
    assert.equal(await auth.authenticate('ghost', 'x'), undefined);
    const noDefault = new Authenticator(store);
    assert.equal(await noDefault.authenticate('kihyun', 'kihyun0'), undefined, 'ambiguous without a default');
  });
});
