/**
 * The contract between the POP3 server and the store behind it (RFC 1939 maildrop semantics).
 * The server owns the protocol, states and deleted-marks; the backend owns accounts and messages.
 */
import type { ConnInfo } from '../../core/index.js';

/** `-ERR [CODE] text` (RFC 2449 response codes: IN-USE, AUTH, SYS/TEMP, SYS/PERM, LOGIN-DELAY). */
export class Pop3Error extends Error {
  constructor(
    readonly code: string | undefined,
    text: string,
    readonly reason?: string,
  ) {
    super(text);
    this.name = 'Pop3Error';
  }
}

export interface MaildropEntry {
  /** Unique id per mailbox, stable across sessions (RFC 1939 UIDL: 1-70 chars 0x21-0x7E). */
  uid: string;
  /** Exact octets RETR sends before byte-stuffing (CRLF line ends as stored). */
  size: number;
}

/** A locked snapshot of one user's mailbox; messages numbered from 1 in `list()` order. */
export interface Maildrop {
  /** The snapshot taken when the maildrop was opened; messages delivered later are not in it. */
  list(): MaildropEntry[];
  /**
   * The stored bytes of message n (1-based), chunk by chunk. A failure on the first step is
   * answered -ERR; later ones cut the connection (the +OK may be out).
   */
  read(n: number): AsyncIterable<Uint8Array>;
  /** UPDATE state: delete these (1-based) atomically. Resolve only when durable. */
  commit(deleted: number[]): Promise<void>;
  /** Drops the lock; nothing is deleted. Always called, after commit or on any exit. */
  release(): Promise<void>;
}

export interface Pop3Backend {
  /**
   * Checks a USER/PASS or AUTH PLAIN login. Resolves the canonical account name (an address) or
   * undefined for bad credentials (the server never says which part was wrong).
   */
  authenticate(user: string, password: string, conn: ConnInfo): Promise<string | undefined>;
  /** Locks and snapshots the account's maildrop; Pop3Error('IN-USE', ...) if already locked. */
  openMaildrop(account: string, conn: ConnInfo): Promise<Maildrop>;
}
