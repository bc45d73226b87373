/**
 * The TRANSACTION state commands of RFC 1939 §5 (STAT, LIST, RETR, DELE, NOOP, RSET, TOP, UIDL)
 * over one locked maildrop snapshot. The deleted-marks live here, in memory, until UPDATE: nothing
 * reaches the backend before QUIT.
 *
 * Octet counts are the backend's `MaildropEntry.size` (the stored bytes, before byte-stuffing),
 * as RFC 1939 §5 asks. A message marked deleted is invisible to every command except RSET.
 */
import {
  formatErr,
  formatMultiline,
  formatOk,
  type Pop3Command,
  parseCount,
  parseMessageNumber,
} from '../codec/index.js';
import type { Maildrop, MaildropEntry } from './backend.js';

/** A multi-line reply whose body is a stored message: the session stuffs and terminates it. */
export interface StreamReply {
  first: string;
  source: AsyncIterable<Uint8Array>;
  /** TOP's body line count; undefined for RETR (the whole message). */
  topLines?: number;
}

export class MaildropView {
  private readonly entries: readonly MaildropEntry[];
  private readonly deleted = new Set<number>();

  constructor(readonly maildrop: Maildrop) {
    this.entries = maildrop.list();
  }

  /** Messages not marked deleted. */
  get count(): number {
    return this.entries.length - this.deleted.size;
  }

  /** `n messages (m octets)` for greetings and RSET. */
  stat(): string {
    return `${this.count} message${this.count === 1 ? '' : 's'} (${this.octets()} octets)`;
  }

  deletedNumbers(): number[] {
    return [...this.deleted].sort((a, b) => a - b);
  }

  private octets(): number {
    let sum = 0;
    this.entries.forEach((e, i) => {
      if (!this.deleted.has(i + 1)) sum += e.size;
    });
    return sum;
  }

  /** Resolves a message-number argument, or the -ERR to send. */
  private message(arg: string | undefined): number | string {
    const n = parseMessageNumber(arg);
    if (n === undefined) return formatErr('Invalid message number');
    if (n > this.entries.length) return formatErr('No such message');
    if (this.deleted.has(n)) return formatErr(`Message ${n} already deleted`);
    return n;
  }

  /** Answers one command; a string is a whole response, a StreamReply a body to stream. */
  command(cmd: Pop3Command): string | StreamReply | undefined {
    const [a, b] = cmd.args;
    switch (cmd.keyword) {
      case 'STAT':
        if (cmd.args.length) return formatErr('STAT takes no arguments');
        return formatOk(`${this.count} ${this.octets()}`);
      case 'NOOP':
        return formatOk();
      case 'RSET':
        this.deleted.clear();
        return formatOk(`maildrop has ${this.stat()}`);
      case 'LIST':
      case 'UIDL': {
        const uidl = cmd.keyword === 'UIDL';
        const value = (i: number) => (uidl ? this.entries[i - 1]!.uid : String(this.entries[i - 1]!.size));
        if (a !== undefined) {
          const n = this.message(a);
          return typeof n === 'string' ? n : formatOk(`${n} ${value(n)}`);
        }
        const lines: string[] = [];
        for (let i = 1; i <= this.entries.length; i++)
          if (!this.deleted.has(i)) lines.push(`${i} ${value(i)}`);
        return formatMultiline(uidl ? 'Unique-id listing follows' : `${this.stat()}`, lines);
      }
      case 'DELE': {
        const n = this.message(a);
        if (typeof n === 'string') return n;
        this.deleted.add(n);
        return formatOk(`Message ${n} deleted`);
      }
      case 'RETR': {
        const n = this.message(a);
        if (typeof n === 'string') return n;
        return { first: formatOk(`${this.entries[n - 1]!.size} octets`), source: this.maildrop.read(n) };
      }
      case 'TOP': {
        const n = this.message(a);
        if (typeof n === 'string') return n;
        const k = parseCount(b);
        if (k === undefined || cmd.args.length !== 2)
          return formatErr('TOP needs a message number and a line count');
        return { first: formatOk('Top of message follows'), source: this.maildrop.read(n), topLines: k };
      }
      default:
        return undefined;
    }
  }
}
