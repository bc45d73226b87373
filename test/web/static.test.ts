/**
 * Serving the built UI: the page with a strict CSP, client-side routes falling back to the page,
 * assets as files, and /api never falling back to HTML.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/tmp.js';
import { startSite, type TestSite } from './support.js';

describe('web UI files', () => {
  let site: TestSite;
  const ui = tempDir(); // at suite level: tempDir's cleanup then runs after the suite
  before(async () => {
    mkdirSync(join(ui, 'assets'));
    writeFileSync(join(ui, 'index.html'), '<!doctype html><title>Posthorn</title><div id="app"></div>');
    writeFileSync(join(ui, 'assets', 'app.js'), 'console.log(1)');
    site = await startSite({ uiDir: ui });
  });
  after(() => site.close());

  it('serves the page with a strict CSP and security headers', async () => {
    const r = await fetch(`${site.base}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/html/);
    assert.match(await r.text(), /<div id="app">/);
    const csp = r.headers.get('content-security-policy')!;
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-eval/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  });

  it('serves assets, falls back to the page for client routes, never for /api', async () => {
    const js = await fetch(`${site.base}/assets/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type')!, /javascript/);
    const route = await fetch(`${site.base}/mail/INBOX`);
    assert.equal(route.status, 200);
    assert.match(await route.text(), /<div id="app">/);
    const api = await fetch(`${site.base}/api/nothing-here`);
    assert.equal(api.status, 404);
    assert.deepEqual(await api.json(), { error: 'not found' });
    const post = await fetch(`${site.base}/mail/INBOX`, { method: 'POST' });
    assert.equal(post.status, 404);
  });
});
