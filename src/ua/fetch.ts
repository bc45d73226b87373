/**
 * Downloading over POP3 (RFC 1939, UIDL from RFC 1939 §7) into the local Maildir.
 *
 * Never lose, never duplicate, whatever moment the process dies:
 * 1. RETR into Maildir tmp/, fsync, rename into new/ (the file name carries the UID, see
 *    maildir.ts), fsync the directory;
 * 2. append the UID to the account's `uidl` file and fsync it;
 * 3. only then DELE (unless --keep); the server forgets the message at QUIT (RFC 1939 §6).
 * A death before 1 completes leaves a tmp/ file (cleaned next run) and the message on the server:
 * fetched again, once. A death between 1 and 2 is repaired at the next start by reading the UID
 * tags from the Maildir. A death between 2 and QUIT leaves the message on the server with its UID
 * remembered: not fetched again, and DELE'd by the next run without --keep.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Pop3Client } from '../pop3/client/index.js';
import type { Account } from './accounts.js';
import { INBOX, Maildir, uidTag } from './maildir.js';

/** What fetch reports as it goes; the CLI draws the progress bar from it. */
export interface FetchProgress {
  /** Called once the list of messages to download is known. */
  start?(count: number, octets: number): void;
  /** After each message is safely stored. */
  stored?(index: number, octets: number): void;
}

export interface FetchOptions {
  /** Leave messages on the server (default: delete each after it is stored). */
  keep?: boolean;
  /** Download messages already fetched before, too. */
  all?: boolean;
  progress?: FetchProgress;
  /** Test hook: die (SIGKILL) after this many messages reached new/, before their UID is recorded. */
  crashAfter?: number;
  timeoutMs?: number;
}

export interface FetchSummary {
  /** Messages on the server. */
  total: number;
  fetched: number;
  octets: number;
  /** Messages deleted on the server (committed at QUIT). */
  deleted: number;
  /** Already downloaded earlier, left alone or deleted now. */
  skipped: number;
}

/** The UIDs already downloaded for one account, one per line (hex), append-only. */
export class UidMemory {
  private seen = new Set<string>();
  constructor(readonly file: string) {}

  async load(): Promise<void> {
    try {
      for (const line of (await readFile(this.file, 'utf8')).split('\n')) if (line) this.seen.add(line);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  has(uid: string): boolean {
    return this.seen.has(uidTag(uid));
  }

  /** Appends tags and fsyncs: the record is durable when this resolves. */
  async addTags(tags: Iterable<string>): Promise<void> {
    const fresh = [...tags].filter((t) => !this.seen.has(t));
    if (!fresh.length) return;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const fh = await open(this.file, 'a', 0o600);
    try {
      await fh.write(fresh.map((t) => `${t}\n`).join(''));
      await fh.sync();
    } finally {
      await fh.close();
    }
    for (const t of fresh) this.seen.add(t);
  }
}

/** Local storage of one account: $XDG_DATA_HOME/posthorn/NAME/{Maildir,uidl}. */
export function accountStorage(dataRoot: string, name: string): { maildir: Maildir; uids: UidMemory } {
  const base = join(dataRoot, name);
  return { maildir: new Maildir(join(base, 'Maildir')), uids: new UidMemory(join(base, 'uidl')) };
}

export async function connectPop3(
  account: Account,
  password: string,
  timeoutMs?: number,
): Promise<Pop3Client> {
  const client = await Pop3Client.connect({
    host: account.pop3.host,
    port: account.pop3.port,
    tls: account.tls,
    tlsOptions: { rejectUnauthorized: account.tlsVerify },
    timeoutMs,
  });
  try {
    await client.login(account.user, password);
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

export async function fetchMail(
  account: Account,
  password: string,
  store: { maildir: Maildir; uids: UidMemory },
  opts: FetchOptions = {},
): Promise<FetchSummary> {
  const { maildir, uids } = store;
  await maildir.ensure(INBOX);
  const client = await connectPop3(account, password, opts.timeoutMs);
  const summary: FetchSummary = { total: 0, fetched: 0, octets: 0, deleted: 0, skipped: 0 };
  try {
    // Logged in, we hold the maildrop lock (RFC 1939 §8): no other fetch of this account writes
    // into the INBOX now, so every tmp/ file is a dead run's.
    await maildir.cleanTmp(INBOX, 0);
    await uids.load();
    // Repair a crash between the rename and the UID record.
    await uids.addTags(await maildir.uidTags());
    const list = await client.list();
    const sizes = new Map(list.map((e) => [e.n, e.size]));
    const ids = await client.uidl();
    summary.total = ids.length;
    const todo = ids.filter((e) => opts.all || !uids.has(e.uid));
    const old = opts.all ? [] : ids.filter((e) => uids.has(e.uid));
    summary.skipped = old.length;
    opts.progress?.start?.(
      todo.length,
      todo.reduce((s, e) => s + (sizes.get(e.n) ?? 0), 0),
    );
    if (!opts.keep) {
      for (const e of old) {
        await client.dele(e.n);
        summary.deleted++;
      }
    }
    for (const [i, e] of todo.entries()) {
      const pending = await maildir.begin({ uid: e.uid });
      try {
        for await (const chunk of await client.retr(e.n)) await pending.write(chunk);
        await pending.commit();
      } catch (err) {
        await pending.abort();
        throw err;
      }
      summary.fetched++;
      summary.octets += pending.size;
      if (opts.crashAfter !== undefined && summary.fetched >= opts.crashAfter)
        process.kill(process.pid, 'SIGKILL');
      await uids.addTags([uidTag(e.uid)]);
      if (!opts.keep) {
        await client.dele(e.n);
        summary.deleted++;
      }
      opts.progress?.stored?.(i + 1, summary.octets);
    }
    await client.quit();
  } catch (err) {
    client.close();
    throw err;
  }
  return summary;
}
