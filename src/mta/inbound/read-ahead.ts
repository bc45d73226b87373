/**
 * Read-ahead for a POP3 maildrop. Mail programs download a mailbox in order (RETR 1, RETR 2, ...),
 * one command per round trip; reading each small message with its own store query costs more than
 * sending it. Once a session reads two messages in a row, the next small ones are fetched with
 * one `readSmall` call and kept until asked for: at most READ_AHEAD_BYTES per session, dropped on
 * any jump elsewhere and with the maildrop.
 *
 * What is served from the read-ahead is the message as it was a moment earlier in the same
 * session, within RFC 1939's snapshot of the maildrop; a message expunged meanwhile (webmail) may
 * still be served once, as it would have been had the client asked a little sooner.
 */
import type { MessageMeta, Store } from '../../store/types.js';

/** Bytes kept ahead per session. */
export const READ_AHEAD_BYTES = 128 * 1024;
/** Messages fetched per store call. */
const READ_AHEAD_MESSAGES = 32;
/** Larger messages are always streamed from the store, never held whole. */
const SMALL_MESSAGE = 32 * 1024;

export class ReadAhead {
  private readonly ahead = new Map<number, Uint8Array>();
  private last = 0;

  constructor(
    private readonly store: Store,
    private readonly messages: readonly MessageMeta[],
  ) {}

  /** The bytes of message n (1-based, known to exist). */
  read(n: number): AsyncIterable<Uint8Array> {
    const m = this.messages[n - 1]!;
    const inOrder = this.last > 0 && n === this.last + 1;
    this.last = n;
    const held = this.ahead.get(n);
    if (held) {
      this.ahead.delete(n);
      return single(held);
    }
    this.ahead.clear();
    if (!inOrder || m.size > SMALL_MESSAGE || m.size === 0) return this.store.messages.read(m.id);
    return deferred(this.fetchFrom(n));
  }

  clear(): void {
    this.ahead.clear();
  }

  private async fetchFrom(n: number): Promise<AsyncIterable<Uint8Array>> {
    const ids: string[] = [];
    let bytes = 0;
    for (let i = n; i <= this.messages.length && ids.length < READ_AHEAD_MESSAGES; i++) {
      const size = this.messages[i - 1]!.size;
      if (size > SMALL_MESSAGE || size === 0 || (ids.length > 0 && bytes + size > READ_AHEAD_BYTES)) break;
      ids.push(this.messages[i - 1]!.id);
      bytes += size;
    }
    const got = await this.store.messages.readSmall(ids, READ_AHEAD_BYTES);
    // Only while the client is still where this read started: it may have moved on meanwhile.
    if (this.last === n) {
      for (let i = n + 1; i < n + ids.length; i++) {
        const data = got.get(this.messages[i - 1]!.id);
        if (data) this.ahead.set(i, data);
      }
    }
    const mine = got.get(ids[0]!);
    return mine ? single(mine) : this.store.messages.read(ids[0]!);
  }
}

/** One chunk as an iterable. */
function single(data: Uint8Array): AsyncIterable<Uint8Array> {
  let done = false;
  const end = async (): Promise<IteratorResult<Uint8Array>> => {
    done = true;
    return { done: true, value: undefined };
  };
  const next = async (): Promise<IteratorResult<Uint8Array>> => {
    if (done) return { done: true, value: undefined };
    done = true;
    return { done: false, value: data };
  };
  return { [Symbol.asyncIterator]: () => ({ next, return: end }) };
}

/** An iterable that becomes `source` once it resolves; a rejection fails the first step. */
function deferred(source: Promise<AsyncIterable<Uint8Array>>): AsyncIterable<Uint8Array> {
  let it: AsyncIterator<Uint8Array> | undefined;
  return {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        it ??= (await source)[Symbol.asyncIterator]();
        return it.next();
      },
      return: async () => {
        if (it) await it.return?.();
        else source.catch(() => {});
        return { done: true, value: undefined };
      },
    }),
  };
}
