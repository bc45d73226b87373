/**
 * The user agent's local mailbox: Maildir (https://cr.yp.to/proto/maildir.html) with Maildir++
 * folders (`.Sent`, `.Archive`, …) next to the INBOX's tmp/new/cur.
 *
 * Delivery is the classic safe sequence: write to tmp/, fsync the file, rename into new/ (atomic
 * on one file system), fsync the directory. A crash leaves at worst a stray file in tmp/, which
 * `cleanTmp` removes: right away where the caller holds the only writer (a fetch, under the POP3
 * maildrop lock), else after the spec's 36 hours.
 *
 * File names are `SECONDS.MICROS_COUNTER.PID[,U=TAG].HOST:2,FLAGS`; the optional U= tag carries the
 * POP3 UID the message came from, so the fetch can recover its memory from the folder itself
 * after a crash between the rename and writing down the UID.
 */
import { createReadStream, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { MailEntry, MailFlag, WritableMailSource } from './source.js';

const LETTERS: Record<MailFlag, string> = {
  '\\Draft': 'D',
  '\\Flagged': 'F',
  $Forwarded: 'P',
  '\\Answered': 'R',
  '\\Seen': 'S',
  '\\Deleted': 'T',
};
const BY_LETTER = new Map(Object.entries(LETTERS).map(([f, l]) => [l, f as MailFlag]));
export const INBOX = 'INBOX';
/** Maildir spec: a tmp/ file untouched for 36 hours is garbage. */
export const TMP_MAX_AGE_MS = 36 * 3600_000;
const FOLDER_NAME = /^[^./\\\0][^/\\\0]{0,99}$/;

let counter = 0;
const host = hostname().replace(/[/:]/g, '_');

function flagsOf(name: string): MailFlag[] {
  const i = name.indexOf(':2,');
  if (i < 0) return [];
  return [...name.slice(i + 3)].map((l) => BY_LETTER.get(l)).filter((f): f is MailFlag => f !== undefined);
}

function baseOf(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(0, i);
}

/** The U= tag of a file name, as the hex it was written with. */
export function uidTagOf(name: string): string | undefined {
  return /,U=([0-9a-f]+)/.exec(baseOf(name))?.[1];
}

export function uidTag(uid: string): string {
  return Buffer.from(uid, 'utf8').toString('hex');
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface DeliverOptions {
  folder?: string;
  flags?: MailFlag[];
  /** POP3 UID to record in the file name. */
  uid?: string;
}

/** A message being written into tmp/; `commit` makes it visible, `abort` throws it away. */
export interface PendingMessage {
  readonly path: string;
  write(chunk: Uint8Array): Promise<void>;
  /** Octets written so far. */
  readonly size: number;
  commit(): Promise<string>;
  abort(): Promise<void>;
}

export class Maildir implements WritableMailSource {
  constructor(readonly root: string) {}

  /** Directory of a folder; INBOX is the root. */
  dir(folder: string): string {
    if (folder.toUpperCase() === INBOX) return this.root;
    if (!FOLDER_NAME.test(folder)) throw new RangeError(`'${folder}' is not a valid folder name`);
    return join(this.root, `.${folder}`);
  }

  async ensure(folder: string): Promise<string> {
    const d = this.dir(folder);
    for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(d, sub), { recursive: true, mode: 0o700 });
    return d;
  }

  async folders(): Promise<string[]> {
    const out = [INBOX];
    let ents: Dirent[] = [];
    try {
      ents = await readdir(this.root, { withFileTypes: true });
    } catch {}
    for (const e of ents) if (e.isDirectory() && e.name.startsWith('.')) out.push(e.name.slice(1));
    return out;
  }

  /** Starts writing a message into tmp/ (see the module comment for the commit sequence). */
  async begin(opts: DeliverOptions = {}): Promise<PendingMessage> {
    const d = await this.ensure(opts.folder ?? INBOX);
    // Wall-clock microseconds: names sort in delivery order, which is the order users number by.
    const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    const micros = String(us % 1_000_000).padStart(6, '0');
    const unique = `${Math.floor(us / 1_000_000)}.M${micros}Q${++counter}P${process.pid}`;
    const base = `${unique}${opts.uid !== undefined ? `,U=${uidTag(opts.uid)}` : ''}.${host}`;
    const tmp = join(d, 'tmp', base);
    const fh = await open(tmp, 'wx', 0o600);
    let size = 0;
    let closed = false;
    const flags = opts.flags ?? [];
    return {
      path: tmp,
      get size() {
        return size;
      },
      async write(chunk) {
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
        size += chunk.length;
      },
      async commit() {
        await fh.sync();
        await fh.close();
        closed = true;
        // Messages that already carry flags were seen by the user (Sent copies): cur/, not new/.
        const name = flags.length ? `${base}:2,${letters(flags)}` : base;
        const dest = join(d, flags.length ? 'cur' : 'new', name);
        await rename(tmp, dest);
        await fsyncDir(join(d, flags.length ? 'cur' : 'new'));
        return dest;
      },
      async abort() {
        if (!closed) await fh.close().catch(() => {});
        closed = true;
        await rm(tmp, { force: true });
      },
    };
  }

  /** Removes files left in tmp/ by runs that died, when older than `minAgeMs`. */
  async cleanTmp(folder = INBOX, minAgeMs = TMP_MAX_AGE_MS): Promise<number> {
    const t = join(this.dir(folder), 'tmp');
    let n = 0;
    let names: string[] = [];
    try {
      names = await readdir(t);
    } catch {
      return 0;
    }
    const now = Date.now();
    for (const name of names) {
      if (name.includes(`P${process.pid}.`) || name.includes(`P${process.pid},`)) continue;
      const st = await stat(join(t, name)).catch(() => undefined);
      // File times can run a little ahead of Date.now(); 0 means "whatever its age".
      if (!st || (minAgeMs > 0 && now - st.mtimeMs < minAgeMs)) continue;
      await rm(join(t, name), { force: true });
      n++;
    }
    return n;
  }

  /** Every file of a folder with its sub-directory, oldest delivery first. */
  private async files(folder: string): Promise<Array<{ sub: 'new' | 'cur'; name: string }>> {
    const d = this.dir(folder);
    const out: Array<{ sub: 'new' | 'cur'; name: string }> = [];
    for (const sub of ['new', 'cur'] as const) {
      let names: string[] = [];
      try {
        names = await readdir(join(d, sub));
      } catch {}
      for (const name of names) if (!name.startsWith('.')) out.push({ sub, name });
    }
    out.sort((a, b) => baseOf(a.name).localeCompare(baseOf(b.name), 'en', { numeric: true }));
    return out;
  }

  /** U= tags of every message in every folder. */
  async uidTags(): Promise<Set<string>> {
    const tags = new Set<string>();
    for (const f of await this.folders()) {
      for (const { name } of await this.files(f)) {
        const t = uidTagOf(name);
        if (t) tags.add(t);
      }
    }
    return tags;
  }

  async list(folder: string): Promise<MailEntry[]> {
    const d = this.dir(folder);
    const out: MailEntry[] = [];
    for (const { sub, name } of await this.files(folder)) {
      let st: Awaited<ReturnType<typeof stat>>;
      try {
        st = await stat(join(d, sub, name));
      } catch {
        continue; // moved away meanwhile
      }
      const secs = Number(name.split('.')[0]);
      out.push({
        id: baseOf(name),
        size: st.size,
        flags: flagsOf(name),
        received: Number.isFinite(secs) ? new Date(secs * 1000) : st.mtime,
      });
    }
    return out;
  }

  private async locate(folder: string, id: string): Promise<string> {
    const d = this.dir(folder);
    for (const sub of ['cur', 'new']) {
      let names: string[] = [];
      try {
        names = await readdir(join(d, sub));
      } catch {}
      const hit = names.find((n) => baseOf(n) === id);
      if (hit) return join(d, sub, hit);
    }
    throw new RangeError(`message ${id} is no longer in ${folder}`);
  }

  async *read(folder: string, id: string): AsyncIterable<Uint8Array> {
    yield* createReadStream(await this.locate(folder, id));
  }

  /** Sets the flags; the message moves to cur/ (it has been seen by a mail reader). */
  async setFlags(folder: string, id: string, flags: MailFlag[]): Promise<void> {
    const from = await this.locate(folder, id);
    await rename(from, join(this.dir(folder), 'cur', `${id}:2,${letters(flags)}`));
  }

  async remove(folder: string, id: string): Promise<void> {
    await rm(await this.locate(folder, id));
  }

  async move(folder: string, id: string, to: string): Promise<void> {
    const from = await this.locate(folder, id);
    const d = await this.ensure(to);
    await rename(from, join(d, basename(dirname(from)), basename(from)));
  }
}

function letters(flags: MailFlag[]): string {
  return [...new Set(flags.map((f) => LETTERS[f]))].sort().join('');
}
