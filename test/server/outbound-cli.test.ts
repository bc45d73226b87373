/**
 * The outbound admin commands through the real CLI: `queue list|show|retry|delete`,
 * `domain dkim`, `user forward`, and `alias add` with a remote target.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { openSqliteStore } from '../../src/store/index.js';
import { cli, cliOk } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';

describe('posthorn queue, domain dkim, user forward', () => {
  const data = tempDir();
  let id = '';

  before(async () => {
    await cliOk(['domain', 'add', 'uu.ac.kr', '--data', data]);
    await cliOk(['user', 'add', 'kihyun@uu.ac.kr', '--password', 'kihyun0', '--data', data]);
    // Queue one message the way the server does (the store is shared with the CLI).
    const store = await openSqliteStore(join(data, 'posthorn.db'));
    const d = await store.openDelivery({
      targets: [],
      envelope: { mailFrom: 'kihyun@uu.ac.kr', rcptTo: ['friend@remote.test'] },
      queue: [
        {
          mailFrom: 'kihyun@uu.ac.kr',
          recipients: [{ address: 'friend@remote.test' }, { address: 'other@remote.test' }],
          expiresAt: new Date(Date.now() + 86_400_000),
          nextAttemptAt: new Date(Date.now() + 3_600_000),
          ret: 'HDRS',
        },
      ],
    });
    await d.write(Buffer.from('Subject: queued\r\n\r\nbody\r\n'));
    id = (await d.commit()).queued![0]!;
    await store.close();
  });

  it('lists, shows, retries and deletes queue entries', async () => {
    const list = await cliOk(['queue', 'list', '--data', data]);
    assert.match(
      list,
      new RegExp(
        `^${id}\\t25\\t\\w{3}, .*\\t<kihyun@uu\\.ac\\.kr>\\tfriend@remote\\.test \\(\\+1\\)\\n1 queued message\\n$`,
      ),
    );
    const show = await cliOk(['queue', 'show', id, '--data', data]);
    assert.match(show, /from: {9}<kihyun@uu\.ac\.kr>\n/);
    assert.match(show, /body: {9}7bit, RET=HDRS\n/);
    assert.match(show, /\n {2}friend@remote\.test {2}pending, 0 attempts, next /);
    assert.match(await cliOk(['queue', 'retry', '--data', data]), /^1 queued message due now\n$/);
    assert.match(await cliOk(['queue', 'retry', id, '--data', data]), /^0 queued messages due now\n$/);
    assert.equal(await cliOk(['queue', 'delete', id, '--data', data]), `queue entry ${id} deleted\n`);
    const gone = await cli(['queue', 'show', id, '--data', data]);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, `posthorn: no such queue entry: ${id}\n`);
  });

  it('creates a DKIM key once and prints the TXT record in 255-octet strings', async () => {
    const out = await cliOk(['domain', 'dkim', 'uu.ac.kr', '--data', data]);
    assert.match(
      out,
      /^DKIM key for uu\.ac\.kr created \(selector posthorn\)\nPublish this TXT record:\nposthorn\._domainkey\.uu\.ac\.kr\. IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{200,}" "[A-Za-z0-9+/=]+"\n$/,
    );
    const again = await cliOk(['domain', 'dkim', 'uu.ac.kr', '--data', data]);
    assert.match(again, /exists/);
    assert.equal(again.split('\n')[2], out.split('\n')[2], 'same key');
    const bad = await cli(['domain', 'dkim', 'other.test', '--data', data]);
    assert.match(bad.stderr, /no such domain: other\.test/);
  });

  it('sets and clears forwarding; aliases may have remote targets', async () => {
    assert.equal(
      await cliOk(['user', 'forward', 'kihyun@uu.ac.kr', 'k@gmail.test', '--keep', '--data', data]),
      'kihyun@uu.ac.kr -> k@gmail.test (copy kept)\n',
    );
    assert.equal(
      await cliOk(['user', 'forward', 'kihyun@uu.ac.kr', '--off', '--data', data]),
      'kihyun@uu.ac.kr: forwarding off\n',
    );
    assert.equal(
      await cliOk(['alias', 'add', 'fw@uu.ac.kr', 'someone@gmail.example', '--data', data]),
      'alias fw@uu.ac.kr -> someone@gmail.example\n',
    );
    const r = await cli(['user', 'forward', 'ghost@uu.ac.kr', 'a@b.test', '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no such user: ghost@uu\.ac\.kr/);
  });
});
