/**
 * What the reading commands (inbox, read, reply, forward, search) need from a mailbox, whatever
 * holds it: the user agent's own Maildir, or — on the server host — the server's store (the CLI
 * adapts it; src/ua never imports the store). Flags use the IMAP names (RFC 3501 §2.3.2), which
 * Maildir maps to its info letters.
 */

export type MailFlag = '\\Seen' | '\\Answered' | '\\Flagged' | '\\Deleted' | '\\Draft' | '$Forwarded';

export interface MailEntry {
  /** Opaque, stable while the message stays in its folder. */
  id: string;
  size: number;
  flags: MailFlag[];
  /** When it arrived in this mailbox (orders the listing). */
  received: Date;
}

export interface MailSource {
  /** Entries of a folder, oldest first; their 1-based position is the number users type. */
  list(folder: string): Promise<MailEntry[]>;
  /** The message bytes, streamed. */
  read(folder: string, id: string): AsyncIterable<Uint8Array>;
  setFlags(folder: string, id: string, flags: MailFlag[]): Promise<void>;
}

/** A mailbox the user agent owns and may change freely. */
export interface WritableMailSource extends MailSource {
  remove(folder: string, id: string): Promise<void>;
  move(folder: string, id: string, to: string): Promise<void>;
  folders(): Promise<string[]>;
}

/** The entry numbered `n` (1-based) in a listing, or an error naming the range. */
export function pick(entries: MailEntry[], n: number, folder: string): MailEntry {
  if (!Number.isInteger(n) || n < 1 || n > entries.length) {
    throw new RangeError(
      entries.length === 0 ? `${folder} is empty` : `no message ${n} in ${folder} (1-${entries.length})`,
    );
  }
  return entries[n - 1]!;
}
