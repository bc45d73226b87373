/** Client setup shared by the scripted-server tests: short timeouts, a plain connection, rejections. */
import assert from 'node:assert/strict';
import { SmtpClient, type SmtpClientError, type SmtpClientOptions } from '../../../src/smtp/client/index.js';

export const SHORT = {
  connect: 2000,
  initial: 2000,
  mail: 2000,
  rcpt: 2000,
  dataInit: 2000,
  dataBlock: 2000,
  dataTermination: 2000,
  command: 2000,
};

export function open(port: number, extra: Partial<SmtpClientOptions> = {}) {
  return SmtpClient.connect({
    host: '127.0.0.1',
    port,
    tls: 'none',
    localName: 'client.test',
    timeouts: SHORT,
    ...extra,
  });
}

/** Awaits `p`, which must reject with an SmtpClientError; returns it. */
export async function rejects(p: Promise<unknown>): Promise<SmtpClientError> {
  try {
    await p;
  } catch (err) {
    assert.equal((err as Error).name, 'SmtpClientError', String(err));
    return err as SmtpClientError;
  }
  assert.fail('expected a rejection');
}
