import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConnInfo } from '../../src/core/index.js';
import type { Session } from '../../src/smtp/index.js';
import { MemorySmtpBackend } from '../support/memory-smtp-backend.js';
import { transcript } from '../support/transcript.js';
import { startServer } from './harness.js';

/** Keeps every session's ConnInfo, and its local end as read while the connection is open. */
class Recording extends MemorySmtpBackend {
  readonly conns: ConnInfo[] = [];
  readonly local: Array<{ address: string; port: number }> = [];
  override newSession(conn: ConnInfo): Session {
    this.conns.push(conn);
    this.local.push({ address: conn.localAddress, port: conn.localPort });
    return super.newSession(conn);
  }
}

test('a session knows both ends of its connection, and its ConnInfo serializes without the socket', async () => {
  const backend = new Recording({ localDomains: ['uu.ac.kr'] });
  const { port } = await startServer({ hostname: 'mail.uu.ac.kr', backend });
  await transcript(
    port,
    `
    S: 220 mail.uu.ac.kr ESMTP Posthorn
    C: EHLO crepes.fr
    S* 250 *
    C: QUIT
    S: 221 2.0.0 mail.uu.ac.kr Bye
    S: <closed>`,
  );
  const conn = backend.conns[0]!;
  assert.equal(conn.remoteAddress, '127.0.0.1');
  assert.ok(conn.remotePort > 0);
  assert.deepEqual(backend.local[0], { address: '127.0.0.1', port });
  assert.equal(conn.listener, 'smtp');
  assert.equal(conn.helo, 'crepes.fr');
  assert.equal(conn.esmtp, true);
  assert.equal(conn.tls, false);
  // Plain data: what a trace or a log line copies from it holds no socket.
  const json = JSON.parse(JSON.stringify(conn)) as Record<string, unknown>;
  assert.equal(json.remoteAddress, '127.0.0.1');
  assert.equal(json.helo, 'crepes.fr');
  for (const [k, v] of Object.entries(json)) assert.notEqual(typeof v, 'object', k);
});
