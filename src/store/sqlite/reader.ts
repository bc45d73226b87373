/**
 * Reads of the SQLite store, on the main thread through its own read-only connection. WAL lets it
 * read while the writer thread writes; every statement sees the latest committed state, so a
 * write whose promise resolved is visible to the next read. Each call is one short indexed query;
 * message bytes are fetched one chunk row at a time, so reading a 25 MiB message never blocks the
 * event loop for more than one chunk.
 */
import Database from 'better-sqlite3';
import {
  MAILBOX_COLS,
  type MailboxRow,
  MESSAGE_COLS,
  type MessageRow,
  parseMessageId,
  parseMessageIds,
  toMailbox,
  toMessage,
  withinBudget,
} from '../rows.js';
import type { Alias, Domain, Mailbox, MessageMeta, User } from '../types.js';
import { StoreError } from '../types.js';

interface UserRow {
  id: number;
  address: string;
  password_hash: string;
  is_admin: number;
  created_at: number;
  forward: string | null;
}

const USER_COLS = 'id, address, password_hash, is_admin, created_at, forward';

const toUser = (r: UserRow): User => ({
  id: r.id,
  address: r.address,
  passwordHash: r.password_hash,
  isAdmin: r.is_admin !== 0,
  createdAt: new Date(r.created_at),
  ...(r.forward ? { forward: JSON.parse(r.forward) as User['forward'] } : {}),
});

/** An iterable that fails on its first step, like a stream that cannot open. */
export function failing(err: Error): AsyncIterable<Uint8Array> {
  return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }) };
}

export class Reader {
  readonly db: Database.Database;
  private readonly s;

  constructor(path: string, busyTimeoutMs: number) {
    this.db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    const p = (sql: string) => this.db.prepare(sql);
    this.s = {
      domains: p('SELECT name, created_at FROM domains ORDER BY name'),
      domainHas: p('SELECT 1 FROM domains WHERE name = ?').pluck(),
      userByKey: p(`SELECT ${USER_COLS} FROM users WHERE address_key = ?`),
      userById: p(`SELECT ${USER_COLS} FROM users WHERE id = ?`),
      usersByLocal: p(`SELECT ${USER_COLS} FROM users WHERE local_key = ? ORDER BY id`),
      users: p(`SELECT ${USER_COLS} FROM users ORDER BY address_key`),
      usersOfDomain: p(`SELECT ${USER_COLS} FROM users WHERE domain = ? ORDER BY address_key`),
      alias: p('SELECT address, targets FROM aliases WHERE address_key = ?'),
      aliases: p('SELECT address, targets FROM aliases ORDER BY address_key'),
      aliasesOfDomain: p('SELECT address, targets FROM aliases WHERE domain = ? ORDER BY address_key'),
      mailbox: p(`SELECT ${MAILBOX_COLS} FROM mailboxes WHERE user_id = ? AND name = ?`),
      mailboxes: p(`SELECT ${MAILBOX_COLS} FROM mailboxes WHERE user_id = ? ORDER BY id`),
      messages: p(
        `SELECT ${MESSAGE_COLS} FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? ORDER BY m.uid`,
      ),
      message: p(`SELECT ${MESSAGE_COLS} FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.id = ?`),
      messageBlob: p(
        'SELECT m.blob_id AS blobId, b.size FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.id = ?',
      ),
      // A typical message is one chunk row: its size and first chunk come back in one query.
      messageFirstChunk: p(
        `SELECT m.blob_id AS blobId, b.size, c.data FROM messages m JOIN blobs b ON b.id = m.blob_id
         JOIN blob_chunks c ON c.blob_id = m.blob_id AND c.seq = 0 WHERE m.id = ?`,
      ),
      chunk: p('SELECT data FROM blob_chunks WHERE blob_id = ? AND seq = ?').pluck(),
      // Messages stored in one chunk row, in the order of the JSON array of ids.
      small: p(
        `SELECT m.id, c.data FROM json_each(?) j JOIN messages m ON m.id = j.value
         JOIN blobs b ON b.id = m.blob_id JOIN blob_chunks c ON c.blob_id = m.blob_id AND c.seq = 0
         WHERE b.size = length(c.data) ORDER BY j.key`,
      ).raw(),
    };
  }

  domains(): Domain[] {
    return (this.s.domains.all() as { name: string; created_at: number }[]).map((r) => ({
      name: r.name,
      createdAt: new Date(r.created_at),
    }));
  }

  hasDomain(name: string): boolean {
    return this.s.domainHas.get(name) !== undefined;
  }

  userByKey(key: string): User | undefined {
    const r = this.s.userByKey.get(key) as UserRow | undefined;
    return r && toUser(r);
  }

  userById(id: number): User | undefined {
    const r = this.s.userById.get(id) as UserRow | undefined;
    return r && toUser(r);
  }

  usersByLocal(localKey: string): User[] {
    return (this.s.usersByLocal.all(localKey) as UserRow[]).map(toUser);
  }

  users(domain?: string): User[] {
    const rows = domain === undefined ? this.s.users.all() : this.s.usersOfDomain.all(domain);
    return (rows as UserRow[]).map(toUser);
  }

  alias(key: string): Alias | undefined {
    const r = this.s.alias.get(key) as { address: string; targets: string } | undefined;
    return r && { address: r.address, targets: JSON.parse(r.targets) as string[] };
  }

  aliases(domain?: string): Alias[] {
    const rows = domain === undefined ? this.s.aliases.all() : this.s.aliasesOfDomain.all(domain);
    return (rows as { address: string; targets: string }[]).map((r) => ({
      address: r.address,
      targets: JSON.parse(r.targets) as string[],
    }));
  }

  mailbox(userId: number, name: string): Mailbox | undefined {
    const r = this.s.mailbox.get(userId, name) as MailboxRow | undefined;
    return r && toMailbox(r);
  }

  mailboxes(userId: number): Mailbox[] {
    return (this.s.mailboxes.all(userId) as MailboxRow[]).map(toMailbox);
  }

  messages(mailboxId: number): MessageMeta[] {
    return (this.s.messages.all(mailboxId) as MessageRow[]).map(toMessage);
  }

  message(id: string): MessageMeta | undefined {
    const n = parseMessageId(id);
    const r = n === undefined ? undefined : (this.s.message.get(n) as MessageRow | undefined);
    return r && toMessage(r);
  }

  /** See MessageRepo.readSmall: one statement for many small messages. */
  readSmall(ids: string[], budget: number): Map<string, Uint8Array> {
    const nums = parseMessageIds(ids);
    if (nums.length === 0) return new Map();
    return withinBudget(this.s.small.iterate(JSON.stringify(nums)) as Iterable<[number, Buffer]>, budget);
  }

  /**
   * Streams a blob's bytes one chunk row per step. `live` runs before each step (the store's
   * closed check). A plain iterator rather than an async generator: POP3 reads many small
   * messages, and each generator layer costs a round of promises per chunk.
   */
  readBlob(blobId: number, size: number, what: string, live: () => void): AsyncIterable<Uint8Array> {
    return this.chunks(blobId, size, undefined, what, live);
  }

  /** Streams the bytes chunk by chunk; fails if the message is expunged while being read. */
  read(id: string, live: () => void): AsyncIterable<Uint8Array> {
    const n = parseMessageId(id);
    live();
    const first =
      n === undefined
        ? undefined
        : (this.s.messageFirstChunk.get(n) as { blobId: number; size: number; data: Buffer } | undefined);
    if (first) return this.chunks(first.blobId, first.size, first.data, `message ${id}`, live);
    const m =
      n === undefined
        ? undefined
        : (this.s.messageBlob.get(n) as { blobId: number; size: number } | undefined);
    if (!m) return failing(new StoreError('not-found', `no such message: ${id}`));
    // An empty message has no chunk rows.
    return this.chunks(m.blobId, m.size, undefined, `message ${id}`, live);
  }

  private chunks(
    blobId: number,
    size: number,
    first: Buffer | undefined,
    what: string,
    live: () => void,
  ): AsyncIterable<Uint8Array> {
    const chunk = this.s.chunk;
    let seq = 0;
    let got = 0;
    let pending = first;
    const next = async (): Promise<IteratorResult<Uint8Array>> => {
      if (got >= size) return { done: true, value: undefined };
      live();
      const data = pending ?? (chunk.get(blobId, seq) as Buffer | undefined);
      pending = undefined;
      if (!data) throw new StoreError('not-found', `${what} was removed while being read`);
      seq++;
      got += data.length;
      return { done: false, value: data };
    };
    const stop = async (): Promise<IteratorResult<Uint8Array>> => {
      got = size;
      return { done: true, value: undefined };
    };
    return { [Symbol.asyncIterator]: () => ({ next, return: stop }) };
  }

  close(): void {
    this.db.close();
  }
}
