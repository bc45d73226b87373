/** Shared fixtures for the POP3 tests: the textbook mailbox and a server on an ephemeral port. */
import { after } from 'node:test';
import { Pop3Server, type Pop3ServerOptions } from '../../src/pop3/index.js';
import { MemoryPop3Backend } from '../support/memory-pop3-backend.js';

export const KIHYUN = 'kihyun@uu.ac.kr';

/** The message of the textbook session: 5 lines, CRLF line ends. */
export const TEXTBOOK_MESSAGE =
  'From: alice@example.org\r\n' +
  'To: kihyun@uu.ac.kr\r\n' +
  'Subject: Hello\r\n' +
  '\r\n' +
  'Hi kihyun, this is the first message.\r\n';

export const SECOND_MESSAGE = 'From: bob@example.org\r\nSubject: Two\r\n\r\nSecond.\r\n';

export function textbookBackend(): MemoryPop3Backend {
  const b = new MemoryPop3Backend();
  b.addAccount(KIHYUN, 'kihyun0', 'kihyun');
  b.deliver(KIHYUN, TEXTBOOK_MESSAGE);
  b.deliver(KIHYUN, SECOND_MESSAGE);
  return b;
}

export async function startServer(
  opts: Partial<Pop3ServerOptions> = {},
  backend: MemoryPop3Backend = textbookBackend(),
): Promise<{ server: Pop3Server; port: number; backend: MemoryPop3Backend }> {
  const server = new Pop3Server({
    hostname: 'uu.ac.kr',
    backend,
    loginDelay: { baseMs: 20, maxMs: 80 },
    ...opts,
  });
  const addr = await server.listen('127.0.0.1', 0);
  after(() => server.close());
  return { server, port: addr.port, backend };
}

/** Waits until the account's lock is gone (a dropped connection releases asynchronously). */
export async function waitUnlocked(backend: MemoryPop3Backend, account = KIHYUN): Promise<void> {
  const deadline = Date.now() + 3000;
  while (backend.isLocked(account)) {
    if (Date.now() > deadline) throw new Error(`${account} still locked`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
