/**
 * The Store: everything Posthorn persists, behind async interfaces that say nothing of SQL.
 *
 * Transaction contract (every backend keeps it; the contract suite in test/store checks it):
 * - A delivery is `openDelivery → write* → commit | abort`. Nothing of it is visible (no row, no
 *   mailbox entry, no uid taken) before `commit` resolves; after `commit` resolves it survives a
 *   crash of the process (SIGKILL) and of the machine as far as fsync allows. `abort`, or a crash
 *   before commit, leaves nothing behind but unreferenced space that is reclaimed later.
 * - One delivery to several mailboxes commits atomically: all or none.
 * - The message bytes are stored once and shared by every mailbox that receives them; they are
 *   written and read in chunks, never held whole in memory.
 * - `expunge` removes the messages atomically and frees their bytes once no mailbox refers to them.
 * - UIDs are assigned at commit, strictly increasing per mailbox, never reused.
 * - Names of domains and addresses are compared case-insensitively (stored lower-cased, but the
 *   local part keeps the case it was created with for display).
 */

export interface Domain {
  name: string;
  createdAt: Date;
}

export interface User {
  id: number;
  /** local@domain, domain lower-cased. */
  address: string;
  /** scrypt hash in the `scrypt$N$r$p$salt$hash` form produced by mta's password module. */
  passwordHash: string;
  isAdmin: boolean;
  createdAt: Date;
}

export interface Alias {
  address: string;
  /** Local or remote addresses. */
  targets: string[];
}

export interface Mailbox {
  id: number;
  userId: number;
  /** 'INBOX', 'Sent', 'Drafts', 'Trash' or a user folder. */
  name: string;
  uidValidity: number;
  uidNext: number;
}

export interface MessageMeta {
  /** Store-wide id of this mailbox entry (stable, opaque). */
  id: string;
  mailboxId: number;
  uid: number;
  /** Octets of the stored bytes (trace headers included), CRLF line ends as stored. */
  size: number;
  flags: string[];
  receivedAt: Date;
  /** Hex sha256 of the stored bytes. */
  sha256: string;
}

/** Who receives a delivery. */
export interface DeliveryTarget {
  userId: number;
  /** Defaults to 'INBOX'; created when missing. */
  mailbox?: string;
  flags?: string[];
}

/** The SMTP envelope kept with a message (for DSN, bounces and the queue later). */
export interface StoredEnvelope {
  /** Reverse path without brackets; '' for the null sender. */
  mailFrom: string;
  /** The recipients as given in RCPT TO (before alias expansion). */
  rcptTo: string[];
  /** Raw ESMTP parameters of MAIL FROM (SIZE, BODY, SMTPUTF8, RET, ENVID ...). */
  mailParams?: Record<string, string>;
  /** Raw ESMTP parameters per RCPT TO, same order as rcptTo (NOTIFY, ORCPT ...). */
  rcptParams?: Record<string, string>[];
  /** Client identity for the record: address, helo, tls, auth user. */
  client?: { address: string; helo?: string; tls?: boolean; authUser?: string };
}

export interface DeliveryOptions {
  targets: DeliveryTarget[];
  envelope: StoredEnvelope;
  receivedAt?: Date;
}

export interface CommitResult {
  /** One entry per target, same order. */
  messages: MessageMeta[];
  size: number;
  sha256: string;
}

/** An open, invisible delivery: write the bytes, then commit or abort. */
export interface Delivery {
  /** Appends bytes; resolves when the chunk may be reused (backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  commit(): Promise<CommitResult>;
  abort(): Promise<void>;
}

/** A held maildrop lock (POP3). Dies with `release()`, with the process, or with the node. */
export interface MaildropLock {
  release(): Promise<void>;
}

export interface DomainRepo {
  add(name: string): Promise<Domain>;
  list(): Promise<Domain[]>;
  has(name: string): Promise<boolean>;
  /** Refuses (StoreError 'conflict') while users or aliases of the domain exist. */
  remove(name: string): Promise<void>;
}

export interface UserRepo {
  add(input: { address: string; passwordHash: string; isAdmin?: boolean }): Promise<User>;
  get(address: string): Promise<User | undefined>;
  getById(id: number): Promise<User | undefined>;
  /** Users whose local part matches, across domains (for POP3 `USER kihyun`). */
  findByLocalPart(localPart: string): Promise<User[]>;
  list(domain?: string): Promise<User[]>;
  setPassword(address: string, passwordHash: string): Promise<void>;
  /** Removes the user, its mailboxes and their messages. */
  remove(address: string): Promise<void>;
}

export interface AliasRepo {
  /** Adds targets to the alias (creating it). */
  add(address: string, targets: string[]): Promise<Alias>;
  get(address: string): Promise<Alias | undefined>;
  list(domain?: string): Promise<Alias[]>;
  remove(address: string): Promise<void>;
}

export interface MailboxRepo {
  /** Creates the mailbox when missing; returns it. */
  ensure(userId: number, name: string): Promise<Mailbox>;
  get(userId: number, name: string): Promise<Mailbox | undefined>;
  list(userId: number): Promise<Mailbox[]>;
}

export interface MessageRepo {
  /** Metadata of every message in the mailbox, by uid ascending. Never reads bodies. */
  list(mailboxId: number): Promise<MessageMeta[]>;
  get(id: string): Promise<MessageMeta | undefined>;
  /** The stored bytes, streamed in chunks. */
  read(id: string): AsyncIterable<Uint8Array>;
  setFlags(id: string, flags: string[]): Promise<void>;
  /** Atomically removes these entries (ids from this mailbox); frees bytes no longer referenced. */
  expunge(mailboxId: number, ids: string[]): Promise<void>;
  /** Moves entries to another mailbox of the same user (new uids there). */
  move(ids: string[], toMailboxId: number): Promise<void>;
}

export interface Store {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  readonly domains: DomainRepo;
  readonly users: UserRepo;
  readonly aliases: AliasRepo;
  readonly mailboxes: MailboxRepo;
  readonly messages: MessageRepo;
  /** Starts an invisible delivery (see the transaction contract above). */
  openDelivery(opts: DeliveryOptions): Promise<Delivery>;
  /** Tries to take the exclusive maildrop lock of a user; undefined when another session holds it. */
  lockMaildrop(userId: number): Promise<MaildropLock | undefined>;
  /** Flushes and closes; pending commits finish first. */
  close(): Promise<void>;
}

export type StoreErrorCode = 'conflict' | 'not-found' | 'invalid' | 'unavailable';

/** Failures callers may act on; anything else is an internal error. */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
