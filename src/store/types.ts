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
  /**
   * Per-user forwarding (`posthorn user forward`): mail to the user also (keep) or only goes to
   * these addresses. Absent when not set.
   */
  forward?: UserForward;
}

export interface UserForward {
  targets: string[];
  /** Keep a copy in the user's own mailbox too. */
  keep: boolean;
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
  /** Local mailboxes. May be empty when `queue` has at least one recipient. */
  targets: DeliveryTarget[];
  envelope: StoredEnvelope;
  receivedAt?: Date;
  /**
   * Remote recipients: each entry becomes one outbound queue entry sharing this delivery's bytes
   * (stored once), committed in the same transaction as the mailbox entries (all or none).
   */
  queue?: QueueEntryInput[];
}

export interface CommitResult {
  /** One entry per target, same order. */
  messages: MessageMeta[];
  /** Ids of the queue entries created, same order as `DeliveryOptions.queue`. */
  queued?: string[];
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
  /** Sets (or with undefined, clears) the user's forwarding; StoreError 'not-found' for no user. */
  setForward(address: string, forward: UserForward | undefined): Promise<void>;
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
  /**
   * The bytes of several small messages in one round trip, for readers that go through a mailbox
   * in order (POP3 RETR of every message): each message of `ids` stored in one piece, by id, in
   * the order of `ids`, until their sizes add up to `budget` octets (the first one always comes).
   * Messages that are gone or empty are left out, and a store may leave out those it keeps in
   * several pieces: read them with `read`.
   */
  readSmall(ids: string[], budget: number): Promise<Map<string, Uint8Array>>;
  setFlags(id: string, flags: string[]): Promise<void>;
  /** Atomically removes these entries (ids from this mailbox); frees bytes no longer referenced. */
  expunge(mailboxId: number, ids: string[]): Promise<void>;
  /** Moves entries to another mailbox of the same user (new uids there). */
  move(ids: string[], toMailboxId: number): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The outbound queue (RFC 5321 §4.5.4.1 retry strategy; RFC 3461/3464 DSN).
//
// Contract (every backend keeps it; test/store/queue-contract.ts checks it):
// - Entries are created only by a delivery commit (`DeliveryOptions.queue`), atomically with the
//   delivery's mailbox entries; an entry refers to the delivery's bytes, which stay until neither
//   a mailbox entry nor a queue entry refers to them.
// - Each recipient has its own state: 'pending' (to be tried at `nextAttemptAt`), 'delivered' or
//   'failed' (final). An entry whose recipients are all final is removed by the `update` that made
//   the last one final (and its bytes freed when unreferenced).
// - Claiming is a lease: `claim` atomically picks due entries (some pending recipient with
//   nextAttemptAt <= now) that are unleased or whose lease expired, and marks them leased to the
//   caller until `now + leaseMs` with a fresh random `token`. No two live leases on one entry ever
//   exist, across processes and nodes sharing the store (PostgreSQL: `SELECT … FOR UPDATE SKIP
//   LOCKED` in the claiming transaction). A node that dies loses nothing: its leases expire and
//   another node claims the entries again (at-least-once delivery).
// - `update`, `renew` and `release` take the claim's token and fail with StoreError('conflict')
//   when the lease is no longer theirs (expired and re-claimed); nothing is changed then.
// - Admin calls (`list`, `get`, `read`, `retry`, `remove`) ignore leases, except that `remove` of
//   an entry under a live lease still removes it (its holder's `update` then gets 'conflict' or
//   'not-found').
// ---------------------------------------------------------------------------------------------

/** RFC 3461 NOTIFY values. */
export type DsnNotify = 'SUCCESS' | 'FAILURE' | 'DELAY' | 'NEVER';

export interface QueueRecipientInput {
  /** The address to deliver to (after alias/forward expansion). */
  address: string;
  /** RFC 3461 ORCPT, as `type;xtext-decoded address` (e.g. `rfc822;a@b`), when known. */
  orcpt?: string;
  /** RFC 3461 NOTIFY; absent means the default (FAILURE, and DELAY at our discretion). */
  notify?: DsnNotify[];
}

export interface QueueEntryInput {
  /** Reverse path for the outbound transaction ('' = null sender; may be SRS-rewritten). */
  mailFrom: string;
  recipients: QueueRecipientInput[];
  /** RFC 3461 RET and ENVID of the original transaction. */
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  /** The body has 8-bit octets (BODY=8BITMIME) / needs SMTPUTF8. */
  body8bit?: boolean;
  smtputf8?: boolean;
  /** After this the entry's pending recipients fail (bounce). Required. */
  expiresAt: Date;
  /** First attempt not before (default: now). */
  nextAttemptAt?: Date;
}

export type QueueRecipientState = 'pending' | 'delivered' | 'failed';

/** The last outcome of one recipient, for `queue show` and the DSN (RFC 3464 §2.3). */
export interface QueueAttemptResult {
  /** RFC 3463 status, e.g. '4.4.1', '5.1.1', '2.0.0'. */
  status: string;
  /** The remote reply or our own reason (Diagnostic-Code), one line. */
  diagnostic: string;
  /** 'smtp' when `diagnostic` is an SMTP reply, else undefined. */
  diagnosticType?: 'smtp';
  /** The host that answered (Remote-MTA). */
  remoteMta?: string;
  /** Delivered to a server that does not do DSN (Action: relayed). */
  relayed?: boolean;
  /** A delay notice (NOTIFY=DELAY) was sent for this recipient; carried forward by the runner. */
  delayWarned?: boolean;
}

export interface QueueRecipient extends QueueRecipientInput {
  /** Index within its entry (0-based, stable). */
  index: number;
  state: QueueRecipientState;
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt?: Date;
  last?: QueueAttemptResult;
}

export interface QueueEntry {
  id: string;
  mailFrom: string;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  body8bit: boolean;
  smtputf8: boolean;
  createdAt: Date;
  expiresAt: Date;
  /** Earliest nextAttemptAt over pending recipients. */
  nextAttemptAt: Date;
  size: number;
  sha256: string;
  /** The original envelope saved with the bytes. */
  envelope: StoredEnvelope;
  recipients: QueueRecipient[];
  /** The lease, when one is live or expired-but-not-reclaimed. */
  leaseOwner?: string;
  leaseUntil?: Date;
}

/** A leased entry: deliver it, then `update` with the token. */
export interface QueueClaim {
  entry: QueueEntry;
  token: string;
}

export interface QueueClaimOptions {
  /** Names the claiming node/process in `leaseOwner` (for `queue list`). */
  owner: string;
  /** How many entries at most. */
  limit: number;
  leaseMs: number;
  /** Default: the current time. */
  now?: Date;
}

/** One recipient's outcome of an attempt. */
export interface QueueRecipientUpdate {
  index: number;
  state: QueueRecipientState;
  /** For 'pending': when to try again. */
  nextAttemptAt?: Date;
  result?: QueueAttemptResult;
  /** Count this as an attempt (default true). */
  attempted?: boolean;
}

export interface QueueRepo {
  /** Leases due entries (see the contract above), oldest nextAttemptAt first. */
  claim(opts: QueueClaimOptions): Promise<QueueClaim[]>;
  /**
   * Applies recipient outcomes atomically and ends the lease (unless `keepLease`); removes the
   * entry when every recipient is final. StoreError('conflict') when the token no longer holds.
   */
  update(
    id: string,
    token: string,
    updates: QueueRecipientUpdate[],
    opts?: { keepLease?: boolean },
  ): Promise<void>;
  /** Extends a live lease to now + leaseMs; 'conflict' when it is no longer ours. */
  renew(id: string, token: string, leaseMs: number): Promise<void>;
  /** Ends a lease without changing anything (shutdown). */
  release(id: string, token: string): Promise<void>;
  /** Every entry, by nextAttemptAt (admin; no bytes). */
  list(opts?: { limit?: number }): Promise<QueueEntry[]>;
  get(id: string): Promise<QueueEntry | undefined>;
  /** The entry's bytes, streamed in chunks. */
  read(id: string): AsyncIterable<Uint8Array>;
  /** Makes pending recipients due now (one entry, or all); returns how many entries changed. */
  retry(id?: string, now?: Date): Promise<number>;
  /** Removes an entry without notice; StoreError('not-found') when absent. */
  remove(id: string): Promise<void>;
  /** Entries and pending recipients in the queue (metrics, benchmarks). */
  count(): Promise<{ entries: number; pendingRecipients: number }>;
}

// ---------------------------------------------------------------------------------------------
// Vacation auto-replies (RFC 3834) and the delivery status of sent mail.
// ---------------------------------------------------------------------------------------------

/** A user's vacation auto-reply (RFC 3834); limits in ../store/vacation-rules.ts. */
export interface VacationSettings {
  enabled: boolean;
  /** The reply's Subject; '' means "Re: " and the original subject. */
  subject: string;
  /** The reply's plain text. */
  text: string;
  /** A sender gets at most one reply per this many days. */
  intervalDays: number;
}

export interface VacationRecord extends VacationSettings {
  updatedAt: Date;
}

export interface VacationRepo {
  get(userId: number): Promise<VacationRecord | undefined>;
  /**
   * Saves the settings (StoreError 'invalid' out of limits, 'not-found' for no user) and forgets
   * the senders already answered, so a new text reaches everyone once. Removed with the user.
   */
  set(userId: number, settings: VacationSettings): Promise<VacationRecord>;
  /** The enabled settings among these users: one read for a whole delivery. */
  active(userIds: number[]): Promise<Map<number, VacationRecord>>;
  /**
   * Atomically records a reply of `userId` to `sender` at `now` unless one was recorded less than
   * `intervalMs` before; true when the caller may send it. Holds across processes and nodes.
   */
  claimReply(userId: number, sender: string, now: Date, intervalMs: number): Promise<boolean>;
}

/** Where the recipients of a submitted message went: kept with its Sent copy. */
export interface SentLink {
  /** sha256 of the submitted delivery: its queue entries carry it, telling a reused queue id apart. */
  sha256: string;
  recipients: SentRecipient[];
}

export interface SentRecipient {
  /** As given in RCPT TO. */
  address: string;
  /** Delivered into local mailboxes by the submission's own commit. */
  local: boolean;
  /** Remote destinations (an alias or a forward may give several): queue entry and index there. */
  queued: Array<{ queueId: string; index: number; address: string }>;
}

/** A queue recipient's final outcome, kept after the queue forgets the entry. */
export interface QueueOutcome {
  queueId: string;
  /** The entry's sha256 (see SentLink). */
  sha256: string;
  index: number;
  address: string;
  state: 'delivered' | 'failed';
  result?: QueueAttemptResult;
  at: Date;
}

export interface SentStatusRepo {
  /** Links a stored message (the Sent copy) with its delivery; replaces an earlier link. */
  link(messageId: string, link: SentLink): Promise<void>;
  /** The link, while the message exists (it goes with the message). */
  get(messageId: string): Promise<SentLink | undefined>;
  /** Keeps final outcomes; outcomes older than OUTCOME_KEEP_MS are forgotten on the way. */
  record(outcomes: QueueOutcome[], now?: Date): Promise<void>;
  outcomes(queueId: string, sha256: string): Promise<QueueOutcome[]>;
}

export interface Store {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  readonly domains: DomainRepo;
  readonly users: UserRepo;
  readonly aliases: AliasRepo;
  readonly mailboxes: MailboxRepo;
  readonly messages: MessageRepo;
  /** The outbound queue (see its contract above). */
  readonly queue: QueueRepo;
  /** Vacation auto-reply settings and whom they answered. */
  readonly vacation: VacationRepo;
  /** Delivery status of sent mail. */
  readonly sent: SentStatusRepo;
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
