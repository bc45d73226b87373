/**
 * DKIM keys from the admin console over real HTTP: the domain list shows each key's TXT record,
 * POST creates (or rotates) a key in the data directory exactly as `posthorn domain dkim` does
 * (same file, found by the signer), never showing the private key; non-admins get 403, unknown
 * domains 404, bad selectors 400; a server without a data directory has no DKIM (404).
 */
import assert from 'node:assert/strict';
import { createPublicKey, createSign, createVerify } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadDkimKeys } from '../../src/mta/outbound/index.js';
import { tempDir } from '../support/tmp.js';
import { Client, startSite, type TestSite } from './support.js';

const RECORD_VALUE = /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{300,}={0,2}$/;

describe('admin: DKIM keys per domain', () => {
  let site: TestSite;
  let root: Client;
  let kihyun: Client;
  const data = tempDir();

  before(async () => {
    site = await startSite({ dataDir: data });
    root = new Client(site.base);
    kihyun = new Client(site.base);
    await root.login('root@uu.ac.kr');
    await kihyun.login('kihyun@uu.ac.kr');
  });
  after(() => site.close());

  it('creates a key once, shows its record, and the signer finds the same key', async () => {
    const before = await root.req('GET', '/api/admin/domains');
    assert.equal(before.status, 200);
    assert.equal(before.json.dkimAvailable, true);
    assert.deepEqual(
      before.json.domains.map((d: { name: string; dkim: unknown }) => [d.name, d.dkim]),
      [['uu.ac.kr', null]],
    );
    assert.equal((await root.req('GET', '/api/admin/domains/uu.ac.kr/dkim')).status, 404, 'no key yet');

    const made = await root.req('POST', '/api/admin/domains/uu.ac.kr/dkim', {});
    assert.equal(made.status, 201, JSON.stringify(made.json));
    assert.equal(made.json.created, true);
    assert.equal(made.json.selector, 'posthorn');
    assert.equal(made.json.name, 'posthorn._domainkey.uu.ac.kr');
    assert.match(made.json.value, RECORD_VALUE);
    // The zone line splits the value into 255-octet strings (RFC 1035 §3.3), like the CLI prints.
    assert.match(made.json.zone, /^posthorn\._domainkey\.uu\.ac\.kr\. IN TXT "[^"]{255}" "[^"]+"$/);
    assert.equal(made.json.zone.replace(/^[^"]*"|"$/g, '').replace(/" "/g, ''), made.json.value);
    assert.doesNotMatch(made.body.toString(), /PRIVATE/);

    const keys = loadDkimKeys(data);
    const key = keys.get('uu.ac.kr');
    assert.ok(key, 'the key file the outbound signer reads');
    assert.equal(`v=DKIM1; k=rsa; p=${key.publicKey}`, made.json.value);
    assert.equal(statSync(join(data, 'dkim', 'uu.ac.kr.json')).mode & 0o777, 0o600);
    // The published public key verifies what the stored private key signs.
    const sig = createSign('sha256').update('x').sign(key.privateKey);
    const pub = createPublicKey({ key: Buffer.from(key.publicKey, 'base64'), format: 'der', type: 'spki' });
    assert.ok(createVerify('sha256').update('x').verify(pub, sig));

    const again = await root.req('POST', '/api/admin/domains/uu.ac.kr/dkim', {});
    assert.equal(again.status, 200);
    assert.equal(again.json.created, false);
    assert.equal(again.json.value, made.json.value, 'an existing key is kept');
    const shown = await root.req('GET', '/api/admin/domains/uu.ac.kr/dkim');
    assert.equal(shown.json.value, made.json.value);
    const list = await root.req('GET', '/api/admin/domains');
    assert.equal(list.json.domains[0].dkim.value, made.json.value);
    assert.equal(list.json.domains[0].dkim.name, 'posthorn._domainkey.uu.ac.kr');
  });

  it('rotates: a new key, the selector kept unless another is given', async () => {
    const old = (await root.req('GET', '/api/admin/domains/uu.ac.kr/dkim')).json.value;
    const rotated = await root.req('POST', '/api/admin/domains/uu.ac.kr/dkim', { rotate: true });
    assert.equal(rotated.status, 201);
    assert.equal(rotated.json.selector, 'posthorn');
    assert.notEqual(rotated.json.value, old);
    const renamed = await root.req('POST', '/api/admin/domains/uu.ac.kr/dkim', {
      rotate: true,
      selector: '2026-03',
    });
    assert.equal(renamed.status, 201);
    assert.equal(renamed.json.name, '2026-03._domainkey.uu.ac.kr');
    assert.equal(loadDkimKeys(data).get('uu.ac.kr')?.selector, '2026-03');
  });

  it('refuses non-admins, unknown domains and bad input', async () => {
    assert.equal((await kihyun.req('GET', '/api/admin/domains')).status, 403);
    assert.equal((await kihyun.req('GET', '/api/admin/domains/uu.ac.kr/dkim')).status, 403);
    assert.equal((await kihyun.req('POST', '/api/admin/domains/uu.ac.kr/dkim', {})).status, 403);
    assert.equal((await root.req('POST', '/api/admin/domains/other.test/dkim', {})).status, 404);
    assert.equal((await root.req('GET', '/api/admin/domains/other.test/dkim')).status, 404);
    assert.equal((await root.req('POST', '/api/admin/domains/..%2f..%2fetc/dkim', {})).status, 404);
    const bad = await root.req('POST', '/api/admin/domains/uu.ac.kr/dkim', { selector: 'a b/..' });
    assert.equal(bad.status, 400);
    assert.equal((await root.req('POST', '/api/admin/domains/uu.ac.kr/dkim', { rotate: 'yes' })).status, 400);
    assert.equal(
      (await root.req('POST', '/api/admin/domains/uu.ac.kr/dkim', {}, { csrf: null })).status,
      403,
      'CSRF token required',
    );
  });

  it('answers 404 on a server without a data directory', async () => {
    const bare = await startSite();
    try {
      const c = new Client(bare.base);
      await c.login('root@uu.ac.kr');
      assert.equal((await c.req('GET', '/api/admin/domains')).json.dkimAvailable, false);
      const r = await c.req('POST', '/api/admin/domains/uu.ac.kr/dkim', {});
      assert.equal(r.status, 404);
      assert.equal(r.json.error, 'this server keeps no DKIM keys');
    } finally {
      await bare.close();
    }
  });
});
