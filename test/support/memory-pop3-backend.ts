/**
 * A real in-memory Pop3Backend for protocol tests: accounts with passwords (and aliases, so
 * `kihyun` and `kihyun@uu.ac.kr` both log in), mailboxes of Buffers with stable UIDs, one exclusive
 * lock per account, and RFC 1939 snapshot semantics (messages delivered during a session are not
 * in it and survive its UPDATE). Also implements the optional APOP add-on.
 *
 * Knobs for failure tests: `failCommit` makes the next commit reject; `chunkSize` makes `read()`
 * deliver bytes in small chunks so chunk boundaries land everywhere.
 */
import { Readable } from 'node:stream';
import type { ConnInfo } from '../../src/core/index.js';
import { type Maildrop, type MaildropEntry, Pop3Error } from '../../src/pop3/server/backend.js';
import type { Pop3ApopBackend } from '../../src/pop3/server/options.js';

interface Stored {
  uid: string;
  bytes: Buffer;
}

interface Account {
  name: string;
  password: string;
  messages: Stored[];
  locked: boolean;
}

export class MemoryPop3Backend implements Pop3ApopBackend {
  private readonly accounts = new Map<string, Account>();
  private readonly aliases = new Map<string, string>();
  private nextUid = 1;
  /** Reject the next commit with this error (then reset). */
  failCommit: Error | undefined;
  /** Make `read()` streams fail: before any byte ('open') or after the first chunk ('mid'). */
  failRead: 'open' | 'mid' | undefined;
  /** Make `openMaildrop` reject with this error. */
  failOpen: Error | undefined;
  /** Size of the chunks `read()` yields; default 64 KiB. */
  chunkSize = 65536;
  /** Every authenticate() call, for tests that check what the server passed on. */
  readonly authCalls: { user: string; conn: ConnInfo }[] = [];
  commits = 0;
  /** Octets handed out by `read()` streams so far (proves streaming with backpressure). */
  bytesRead = 0;

  /** Adds an account `name` (an address); every alias also logs in to it. */
  addAccount(name: string, password: string, ...aliases: string[]): void {
    this.accounts.set(name, { name, password, messages: [], locked: false });
    for (const a of [name, ...aliases]) this.aliases.set(a.toLowerCase(), name);
  }

  /** Delivers a message (exact bytes); returns its UID. */
  deliver(account: string, bytes: Buffer | string): string {
    const acct = this.account(account);
    const uid = `m${String(this.nextUid++).padStart(6, '0')}`;
    acct.messages.push({ uid, bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes });
    return uid;
  }

  /** Current contents of a mailbox (outside any session). */
  messages(account: string): { uid: string; bytes: Buffer }[] {
    return this.account(account).messages.map((m) => ({ ...m }));
  }

  isLocked(account: string): boolean {
    return this.account(account).locked;
  }

  private account(name: string): Account {
    const a = this.accounts.get(name);
    if (!a) throw new Error(`no account ${name}`);
    return a;
  }

  async authenticate(user: string, password: string, conn: ConnInfo): Promise<string | undefined> {
    this.authCalls.push({ user, conn: { ...conn } });
    const name = this.aliases.get(user.toLowerCase());
    const acct = name === undefined ? undefined : this.accounts.get(name);
    return acct && acct.password === password ? acct.name : undefined;
  }

  async apopSecret(user: string): Promise<{ account: string; secret: string } | undefined> {
    const name = this.aliases.get(user.toLowerCase());
    const acct = name === undefined ? undefined : this.accounts.get(name);
    return acct && { account: acct.name, secret: acct.password };
  }

  async openMaildrop(account: string, _conn: ConnInfo): Promise<Maildrop> {
    const acct = this.account(account);
    if (this.failOpen) throw this.failOpen;
    if (acct.locked) throw new Pop3Error('IN-USE', 'Maildrop already locked by another session');
    acct.locked = true;
    const snapshot = [...acct.messages];
    let released = false;
    return {
      list: (): MaildropEntry[] => snapshot.map((m) => ({ uid: m.uid, size: m.bytes.length })),
      read: (n: number): Readable => {
        const m = snapshot[n - 1];
        if (!m) throw new Error(`no message ${n}`);
        const size = this.chunkSize;
        const self = this;
        const fail = this.failRead;
        return Readable.from(
          (function* () {
            if (fail === 'open') throw new Error('message file vanished');
            for (let i = 0; i < m.bytes.length; i += size) {
              if (fail === 'mid' && i > 0) throw new Error('disk read error');
              const chunk = m.bytes.subarray(i, i + size);
              self.bytesRead += chunk.length;
              yield chunk;
            }
          })(),
        );
      },
      commit: async (deleted: number[]) => {
        await new Promise((r) => setImmediate(r));
        if (this.failCommit) {
          const err = this.failCommit;
          this.failCommit = undefined;
          throw err;
        }
        const gone = new Set(deleted.map((n) => snapshot[n - 1]!.uid));
        acct.messages = acct.messages.filter((m) => !gone.has(m.uid));
        this.commits++;
      },
      release: async () => {
        if (released) return;
        released = true;
        acct.locked = false;
      },
    };
  }
}
