/**
 * The web listener over HTTPS (a configured certificate): the session cookie gets `Secure`, and
 * the Origin check expects the https origin.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import selfsigned from 'selfsigned';
import { startSite, type TestSite } from './support.js';

function post(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      `${base}${path}`,
      {
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('web over HTTPS', () => {
  let site: TestSite;
  let base: string;
  before(async () => {
    const p = await selfsigned.generate([{ name: 'commonName', value: 'mx.uu.ac.kr' }], { keySize: 2048 });
    site = await startSite({ tls: { key: p.private, cert: p.cert } });
    base = site.base.replace('http:', 'https:');
  });
  after(() => site.close());

  it('marks the session cookie Secure and checks the https origin', async () => {
    const creds = { address: 'kihyun@uu.ac.kr', password: 'kihyun-pw-1' };
    const ok = await post(base, '/api/login', creds, { origin: base });
    assert.equal(ok.status, 200);
    const cookie = String(ok.headers['set-cookie']);
    assert.match(cookie, /; Secure/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const plainOrigin = await post(base, '/api/login', creds, { origin: base.replace('https:', 'http:') });
    assert.equal(plainOrigin.status, 403, 'the http origin is another origin');
  });
});
