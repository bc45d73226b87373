/**
 * "Reading on the server itself": `posthorn inbox|read --local ADDRESS --data DIR` reads a user's
 * mailbox straight from the server's store, without POP3. This adapter is the only place where
 * the user agent meets the store (src/ua never imports it, see ARCHITECTURE.md).
 *
 * The store may be open by the running server at the same time (SQLite WAL allows it). Marking a
 * message read sets the IMAP \Seen flag in the store.
 */
import { storeUrlFor } from '../config/index.js';
import { openStore, type Store, StoreError } from '../store/index.js';
import type { MailEntry, MailFlag, MailSource } from '../ua/index.js';
import { CliError } from './io.js';

export interface LocalFlags {
  local?: string;
  data?: string;
  store?: string;
}

const KNOWN = new Set<string>(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Forwarded']);

class StoreSource implements MailSource {
  private boxes = new Map<string, number | undefined>();
  constructor(
    private readonly store: Store,
    private readonly userId: number,
  ) {}

  private async box(folder: string): Promise<number | undefined> {
    if (!this.boxes.has(folder)) {
      const name = folder.toUpperCase() === 'INBOX' ? 'INBOX' : folder;
      this.boxes.set(folder, (await this.store.mailboxes.get(this.userId, name))?.id);
    }
    return this.boxes.get(folder);
  }

  async list(folder: string): Promise<MailEntry[]> {
    const id = await this.box(folder);
    if (id === undefined) return [];
    return (await this.store.messages.list(id)).map((m) => ({
      id: m.id,
      size: m.size,
      flags: m.flags.filter((f) => KNOWN.has(f)) as MailFlag[],
      received: m.receivedAt,
    }));
  }

  read(_folder: string, id: string): AsyncIterable<Uint8Array> {
    return this.store.messages.read(id);
  }

  async setFlags(_folder: string, id: string, flags: MailFlag[]): Promise<void> {
    // Keep flags the user agent does not know about (keywords set by other clients).
    const meta = await this.store.messages.get(id);
    const other = (meta?.flags ?? []).filter((f) => !KNOWN.has(f));
    await this.store.messages.setFlags(id, [...other, ...flags]);
  }
}

/** Opens the store and the user's mailbox; call `close` when done. */
export async function openLocalSource(
  flags: LocalFlags,
): Promise<{ source: MailSource; address: string; close(): Promise<void> }> {
  const address = flags.local!;
  let store: Store;
  try {
    store = await openStore(storeUrlFor(flags));
  } catch (err) {
    throw new CliError(`cannot open the store: ${(err as Error).message}`);
  }
  try {
    const user = await store.users.get(address);
    if (!user) throw new CliError(`no user ${address} in this store`);
    return { source: new StoreSource(store, user.id), address: user.address, close: () => store.close() };
  } catch (err) {
    await store.close();
    if (err instanceof StoreError) throw new CliError(err.message);
    throw err;
  }
}
