/**
 * The POP3 server's backend over the store: logins through the Authenticator, and a maildrop that
 * is the user's INBOX as it was when the lock was taken (RFC 1939 snapshot semantics: mail that
 * arrives during the session waits for the next one). UIDs are `<uidValidity>.<uid>`: unique per
 * mailbox and stable across sessions and restarts. Deletions happen only in `commit` (UPDATE
 * state), atomically, and free the stored bytes.
 */
import type { ConnInfo, Logger } from '../../core/index.js';
import { type Maildrop, type MaildropEntry, type Pop3Backend, Pop3Error } from '../../pop3/server/backend.js';
import type { MessageMeta, Store } from '../../store/types.js';
import type { Authenticator } from '../auth/authenticator.js';
import { ReadAhead } from './read-ahead.js';

export class MaildropBackend implements Pop3Backend {
  constructor(
    private readonly store: Store,
    private readonly authenticator: Authenticator,
    private readonly logger: Logger,
  ) {}

  authenticate(user: string, password: string): Promise<string | undefined> {
    return this.authenticator.authenticate(user, password);
  }

  async openMaildrop(account: string, conn: ConnInfo): Promise<Maildrop> {
    let user: Awaited<ReturnType<Store['users']['get']>>;
    try {
      user = await this.store.users.get(account);
    } catch (err) {
      this.logger.error({ err, session: conn.id }, 'store failure opening maildrop');
      throw new Pop3Error('SYS/TEMP', 'Mailbox temporarily unavailable');
    }
    if (!user) throw new Pop3Error('SYS/PERM', 'No such mailbox');
    const lock = await this.store.lockMaildrop(user.id);
    if (!lock) throw new Pop3Error('IN-USE', 'Mailbox is locked by another session');
    try {
      const box = await this.store.mailboxes.ensure(user.id, 'INBOX');
      const messages = await this.store.messages.list(box.id);
      return new StoreMaildrop(this.store, box.id, box.uidValidity, messages, lock.release.bind(lock));
    } catch (err) {
      await lock.release();
      this.logger.error({ err, session: conn.id }, 'store failure opening maildrop');
      throw new Pop3Error('SYS/TEMP', 'Mailbox temporarily unavailable');
    }
  }
}

class StoreMaildrop implements Maildrop {
  private readonly entries: MaildropEntry[];
  private readonly ahead: ReadAhead;
  private released = false;

  constructor(
    private readonly store: Store,
    private readonly mailboxId: number,
    uidValidity: number,
    private readonly messages: MessageMeta[],
    private readonly unlock: () => Promise<void>,
  ) {
    this.entries = messages.map((m) => ({ uid: `${uidValidity}.${m.uid}`, size: m.size }));
    this.ahead = new ReadAhead(store, messages);
  }

  list(): MaildropEntry[] {
    return this.entries;
  }

  read(n: number): AsyncIterable<Uint8Array> {
    if (!this.messages[n - 1]) throw new Pop3Error(undefined, 'No such message');
    return this.ahead.read(n);
  }

  async commit(deleted: number[]): Promise<void> {
    const ids = deleted.map((n) => this.messages[n - 1]?.id).filter((id): id is string => !!id);
    if (ids.length) await this.store.messages.expunge(this.mailboxId, ids);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.ahead.clear();
    await this.unlock();
  }
}
