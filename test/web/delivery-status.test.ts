/**
 * Delivery status of sent mail over HTTP: a message sent from the webmail to a local user and to
 * remote addresses (the queue runner delivering to a scripted SMTP peer on loopback, routed by a
 * route, DNS faked) shows per recipient `delivered` (local at once; remote with the peer's reply,
 * also after the queue forgot the entry), `queued`, `deferred` (4xx reply, next attempt) and
 * `bounced` (5xx reply); a removed entry without a kept outcome is `unknown`. Only the owner sees it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import { QueueRunner } from '../../src/mta/outbound/index.js';
import { ScriptedSmtp } from '../outbound/scripted-smtp.js';
import { FakeResolver } from '../support/fake-dns.js';
import { Client, startSite, type TestSite } from './support.js';

interface Row {
  address: string;
  local: boolean;
  state: string;
  reply?: string;
  status?: string;
  remoteMta?: string;
  nextAttemptAt?: string;
  attempts?: number;
}

describe('web: delivery status of sent mail', () => {
  let site: TestSite;
  let peer: ScriptedSmtp;
  let runner: QueueRunner | undefined;
  let kihyun: Client;
  let peerPort: number;

  before(async () => {
    site = await startSite();
    peer = new ScriptedSmtp({
      ehlo: ['8BITMIME', 'ENHANCEDSTATUSCODES'],
      rcpt: (a) =>
        a.startsWith('refused@')
          ? '550 5.1.1 <refused@remote.example>: Recipient address rejected: User unknown'
          : a.startsWith('later@')
            ? '451 4.7.1 Greylisted, try again later'
            : '250 2.1.5 Ok',
    });
    peerPort = await peer.listen();
    kihyun = new Client(site.base);
    await kihyun.login('kihyun@uu.ac.kr');
  });
  after(async () => {
    await runner?.stop();
    await peer.close();
    await site.close();
  });

  function startRunner() {
    runner = new QueueRunner({
      store: site.store,
      hostname: 'mx.uu.ac.kr',
      logger: silentLogger,
      resolver: new FakeResolver(),
      routing: { routes: { 'remote.example': { host: '127.0.0.1', port: peerPort, tls: 'none' } } },
      limits: { pollMs: 20, leaseMs: 5000 },
      smtp: { timeouts: { connect: 2000, initial: 2000 } },
    });
    runner.start();
  }

  async function status(id: string, c = kihyun): Promise<Row[]> {
    const r = await c.req('GET', `/api/messages/${id}/delivery`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.recipients;
  }

  async function until(id: string, cond: (rows: Row[]) => boolean): Promise<Row[]> {
    const end = Date.now() + 8000;
    for (;;) {
      const rows = await status(id);
      if (cond(rows)) return rows;
      if (Date.now() > end) throw new Error(`timed out; last status ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const byAddress = (rows: Row[], a: string) => rows.find((r) => r.address === a)!;
  let firstId: string;

  it('a local recipient is delivered at once, a remote one queued, then delivered with the reply', async () => {
    const sent = await kihyun.req('POST', '/api/send', {
      to: 'mina@uu.ac.kr, bob@remote.example',
      subject: 'status please',
      text: 'x',
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.json));
    firstId = sent.json.id;
    const before = await status(firstId);
    assert.deepEqual(
      before.map((r) => [r.address, r.local, r.state]),
      [
        ['mina@uu.ac.kr', true, 'delivered'],
        ['bob@remote.example', false, 'queued'],
      ],
    );
    assert.ok(byAddress(before, 'bob@remote.example').nextAttemptAt);

    startRunner();
    const rows = await until(firstId, (r) => byAddress(r, 'bob@remote.example').state === 'delivered');
    const bob = byAddress(rows, 'bob@remote.example');
    assert.match(bob.reply ?? '', /^250 2\.0\.0 Ok: queued/);
    assert.equal(bob.status, '2.0.0');
    assert.equal(peer.messages.length, 1);
    assert.deepEqual(peer.messages[0]!.rcpts, ['bob@remote.example']);
    // Every recipient final: the queue forgot the entry; the kept outcome still answers.
    assert.equal((await site.store.queue.list()).length, 0);
    assert.equal(byAddress(await status(firstId), 'bob@remote.example').state, 'delivered');
  });

  it('a refused recipient is bounced with the reply, a greylisted one deferred with the next attempt', async () => {
    const sent = await kihyun.req('POST', '/api/send', {
      to: 'refused@remote.example',
      cc: 'later@remote.example',
      subject: 'two fates',
      text: 'x',
    });
    assert.equal(sent.status, 200);
    const id = sent.json.id;
    const rows = await until(id, (r) => r.every((x) => x.state === 'bounced' || x.state === 'deferred'));
    const refused = byAddress(rows, 'refused@remote.example');
    assert.equal(refused.state, 'bounced');
    assert.match(refused.reply ?? '', /^550 5\.1\.1 <refused@remote\.example>: Recipient address rejected/);
    assert.equal(refused.status, '5.1.1');
    assert.ok(refused.remoteMta);
    const later = byAddress(rows, 'later@remote.example');
    assert.equal(later.state, 'deferred');
    assert.match(later.reply ?? '', /^451 4\.7\.1 Greylisted/);
    assert.equal(later.attempts, 1);
    assert.ok(Date.parse(later.nextAttemptAt!) > Date.now(), 'the next attempt lies ahead');

    // An administrator removes the entry: the kept bounce stays, the pending one is unknown now.
    const [entry] = await site.store.queue.list();
    await site.store.queue.remove(entry!.id);
    const gone = await status(id);
    assert.equal(byAddress(gone, 'refused@remote.example').state, 'bounced');
    assert.equal(byAddress(gone, 'later@remote.example').state, 'unknown');
  });

  it('only the owner sees it; received mail has no status', async () => {
    const mina = new Client(site.base);
    await mina.login('mina@uu.ac.kr');
    assert.equal((await mina.req('GET', `/api/messages/${firstId}/delivery`)).status, 404);
    assert.equal((await kihyun.req('GET', '/api/messages/999999/delivery')).status, 404);
    assert.equal((await kihyun.req('GET', '/api/messages/x/delivery')).status, 404);
    assert.equal((await new Client(site.base).req('GET', `/api/messages/${firstId}/delivery`)).status, 401);
    const inbox = (await mina.req('GET', '/api/mailboxes/INBOX/messages')).json.messages;
    const received = await mina.req('GET', `/api/messages/${inbox[0].id}/delivery`);
    assert.deepEqual(received.json, { tracked: false, recipients: [] });
  });
});
