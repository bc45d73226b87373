/**
 * The single writer of a SQLite store: opens the database (WAL, foreign keys, the chosen
 * `synchronous`), migrates it, reclaims the blobs of dead writers, and applies write operations.
 * It runs inside the writer thread (writer-worker.ts), which wraps each batch of operations in one
 * transaction (group commit) and each operation in a savepoint, so one failing operation (a
 * conflict, an unknown user) rolls back alone and the others of the batch still commit.
 *
 * Blob life cycle: a delivery larger than one chunk gets a `blobs` row in state 0 (pending, owned
 * by this process id) with its first chunk; `commit` turns it into state 1 in the same savepoint
 * that inserts the mailbox entries, so the bytes become visible with the entries or not at all.
 * A pending blob whose owner process is gone is garbage: `reclaimOrphans` deletes it on open.
 * A committed blob is deleted (chunks cascade) as soon as no message refers to it.
 */
import Database from 'better-sqlite3';
import { StoreError } from '../types.js';
import { FeaturesWriter } from './features-sql.js';
import type { CommittedEntry, WriteOp, WriterOptions } from './protocol.js';
import { QueueWriter } from './queue-sql.js';
import { checkNotNewer, migrate, SCHEMA_VERSION } from './schema.js';

type Op<K extends WriteOp['op']> = Extract<WriteOp, { op: K }>;

interface Pending {
  blobId: number;
  nextSeq: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Opens the file for writing; a schema newer than ours is refused before anything is changed. */
export function openDatabase(opts: WriterOptions): Database.Database {
  const db = new Database(opts.path, { timeout: opts.busyTimeoutMs });
  try {
    checkNotNewer(db, opts.path);
    // The read connection on the main thread relies on WAL to never wait for this writer.
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal')
      throw new StoreError('unavailable', `${opts.path}: the file system does not allow WAL mode`);
    db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    // Big deliveries would otherwise leave a WAL file as large as the largest batch forever.
    db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

export class Writer {
  readonly db: Database.Database;
  readonly migrated: number;
  private readonly ownerToken: number;
  private readonly pending = new Map<number, Pending>();
  private readonly lost: number[] = [];
  private readonly s;
  private readonly queue: QueueWriter;
  private readonly features: FeaturesWriter;

  constructor(opts: WriterOptions) {
    this.ownerToken = opts.ownerToken;
    this.db = openDatabase(opts);
    try {
      this.migrated = migrate(this.db, opts.path);
    } catch (err) {
      this.db.close();
      throw err;
    }
    const p = (sql: string) => this.db.prepare(sql);
    this.s = {
      domainInsert: p('INSERT INTO domains (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      domainInUse: p(
        'SELECT EXISTS (SELECT 1 FROM users WHERE domain = ?) OR EXISTS (SELECT 1 FROM aliases WHERE domain = ?)',
      ).pluck(),
      domainDelete: p('DELETE FROM domains WHERE name = ?'),
      domainExists: p('SELECT 1 FROM domains WHERE name = ?').pluck(),
      userInsert: p(
        `INSERT INTO users (address, address_key, local_key, domain, password_hash, is_admin, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      userByKey: p('SELECT id FROM users WHERE address_key = ?').pluck(),
      userExists: p('SELECT 1 FROM users WHERE id = ?').pluck(),
      userSetPassword: p('UPDATE users SET password_hash = ? WHERE address_key = ?'),
      userSetForward: p('UPDATE users SET forward = ? WHERE address_key = ?'),
      userBlobs: p(
        `SELECT DISTINCT m.blob_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = ?`,
      ).pluck(),
      userDelete: p('DELETE FROM users WHERE id = ?'),
      aliasGet: p('SELECT targets FROM aliases WHERE address_key = ?').pluck(),
      aliasInsert: p(
        'INSERT INTO aliases (address_key, address, domain, targets, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      aliasUpdate: p('UPDATE aliases SET targets = ? WHERE address_key = ?'),
      aliasDelete: p('DELETE FROM aliases WHERE address_key = ?'),
      mailboxBump: p(
        'UPDATE mailboxes SET uid_next = uid_next + 1 WHERE user_id = ? AND name = ? RETURNING id, uid_next - 1 AS uid',
      ),
      mailboxBumpById: p(
        'UPDATE mailboxes SET uid_next = uid_next + 1 WHERE id = ? RETURNING uid_next - 1 AS uid',
      ).pluck(),
      mailboxInsert: p(
        'INSERT INTO mailboxes (user_id, name, uid_validity, uid_next) VALUES (?, ?, ?, 1) ON CONFLICT DO NOTHING',
      ),
      // UIDVALIDITY: the creation second, but always above every earlier one, so that a mailbox
      // deleted and created again (user removed and re-added) never repeats old (validity, uid) pairs.
      nextUidValidity: p(
        `INSERT INTO counters (name, value) VALUES ('uid_validity', ?)
         ON CONFLICT (name) DO UPDATE SET value = max(value + 1, excluded.value) RETURNING value`,
      ).pluck(),
      mailboxGet: p('SELECT id, user_id AS userId FROM mailboxes WHERE id = ?'),
      messageInsert: p(
        'INSERT INTO messages (mailbox_id, uid, blob_id, flags, received_at) VALUES (?, ?, ?, ?, ?)',
      ),
      messageGet: p(
        'SELECT m.mailbox_id AS mailboxId, m.uid, m.blob_id AS blobId, b.user_id AS userId FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.id = ?',
      ),
      messageFlags: p('UPDATE messages SET flags = ? WHERE id = ?'),
      messageDelete: p('DELETE FROM messages WHERE id = ?'),
      messageMove: p('UPDATE messages SET mailbox_id = ?, uid = ? WHERE id = ?'),
      blobPending: p('INSERT INTO blobs (state, owner_pid, owner_token, created_at) VALUES (0, ?, ?, ?)'),
      blobCommitted: p(
        'INSERT INTO blobs (state, size, sha256, envelope, created_at) VALUES (1, ?, ?, ?, ?)',
      ),
      blobCommit: p(
        'UPDATE blobs SET state = 1, owner_pid = NULL, owner_token = NULL, size = ?, sha256 = ?, envelope = ? WHERE id = ? AND state = 0',
      ),
      // A queue entry (schema step 2) keeps the bytes too.
      blobFreeIfUnused: p(
        'DELETE FROM blobs WHERE id = ? AND state = 1 AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = blobs.id) AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = blobs.id)',
      ),
      blobDelete: p('DELETE FROM blobs WHERE id = ?'),
      chunkInsert: p('INSERT INTO blob_chunks (blob_id, seq, data) VALUES (?, ?, ?)'),
      pendingOwners: p('SELECT DISTINCT owner_pid AS pid, owner_token AS token FROM blobs WHERE state = 0'),
      pendingDelete: p('DELETE FROM blobs WHERE state = 0 AND owner_pid IS ? AND owner_token IS ?'),
    };
    this.queue = new QueueWriter(this.db);
    this.features = new FeaturesWriter(this.db);
  }

  get schemaVersion(): number {
    return SCHEMA_VERSION;
  }

  /**
   * Deletes the pending blobs of processes that no longer run (crashed mid-delivery). A live pid
   * that is not ours keeps its blobs even if it is an unrelated process that reused the pid: they
   * go at a later open, and an admin command opening the store never deletes a running server's.
   */
  reclaimOrphans(): number {
    return this.db
      .transaction(() => {
        let n = 0;
        const owners = this.s.pendingOwners.all() as { pid: number | null; token: number | null }[];
        for (const { pid, token } of owners) {
          // Our pid with another token is a dead predecessor (containers reuse pids across restarts).
          const ours = pid === process.pid && token === this.ownerToken;
          const live = pid !== null && pid !== process.pid && isAlive(pid);
          if (ours || live) continue;
          n += this.s.pendingDelete.run(pid, token).changes;
        }
        return n;
      })
      .immediate();
  }

  /** Applies one operation; the caller holds the batch transaction and this runs in a savepoint. */
  apply(w: WriteOp): unknown {
    switch (w.op) {
      case 'domainAdd':
        return this.domainAdd(w);
      case 'domainRemove':
        return this.domainRemove(w);
      case 'userAdd':
        return this.userAdd(w);
      case 'userSetPassword':
        if (this.s.userSetPassword.run(w.passwordHash, w.key).changes === 0) throw notFound('user', w.key);
        return null;
      case 'userSetForward':
        if (this.s.userSetForward.run(w.forward, w.key).changes === 0) throw notFound('user', w.key);
        return null;
      case 'userRemove':
        return this.userRemove(w);
      case 'aliasAdd':
        return this.aliasAdd(w);
      case 'aliasRemove':
        if (this.s.aliasDelete.run(w.key).changes === 0) throw notFound('alias', w.key);
        return null;
      case 'mailboxEnsure':
        return this.mailboxEnsure(w);
      case 'setFlags':
        if (this.s.messageFlags.run(w.flags, w.id).changes === 0) throw notFound('message', String(w.id));
        return null;
      case 'expunge':
        return this.expunge(w);
      case 'move':
        return this.move(w);
      case 'chunk':
        return this.chunk(w);
      case 'commit':
        return this.commit(w);
      case 'discard':
        return this.discard(w.key);
      case 'queueClaim':
        return this.queue.claim(w.owner, w.limit, w.leaseMs, w.now);
      case 'queueUpdate':
        return this.queue.update(w.id, w.token, w.updates, w.keepLease);
      case 'queueRenew':
        return this.queue.renew(w.id, w.token, w.leaseMs);
      case 'queueRelease':
        return this.queue.release(w.id, w.token);
      case 'queueRetry':
        return this.queue.retry(w.id, w.now);
      case 'queueRemove':
        return this.queue.remove(w.id);
      case 'vacationSet':
        return this.features.vacationSet(w.userId, w.settings, w.now);
      case 'vacationClaim':
        return this.features.claim(w.userId, w.sender, w.now, w.since);
      case 'sentLink':
        return this.features.link(w.messageId, w.link);
      case 'sentRecord':
        return this.features.record(w.outcomes, w.now);
      default: {
        const never: never = w;
        throw new Error(`unknown op ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * After a batch rolled back, the deliveries it touched no longer match their rows: forget them
   * (their later operations fail) and delete what earlier batches wrote for them.
   */
  forgetAfterRollback(keys: Iterable<number>): void {
    for (const k of keys) {
      const p = this.pending.get(k);
      if (!p) continue;
      this.pending.delete(k);
      this.lost.push(p.blobId);
    }
  }

  /** Deletes blobs lost by a rolled-back batch; runs at the start of the next batch. */
  deleteLost(): void {
    for (const b of this.lost.splice(0)) this.s.blobDelete.run(b);
  }

  private domainAdd(w: Op<'domainAdd'>) {
    if (this.s.domainInsert.run(w.name, w.now).changes === 0) {
      throw new StoreError('conflict', `domain exists: ${w.name}`);
    }
    return { name: w.name, createdAt: w.now };
  }

  private domainRemove(w: Op<'domainRemove'>) {
    if (!this.s.domainExists.get(w.name)) throw notFound('domain', w.name);
    if (this.s.domainInUse.get(w.name, w.name))
      throw new StoreError('conflict', `domain ${w.name} still has users or aliases`);
    this.s.domainDelete.run(w.name);
    return null;
  }

  private userAdd(w: Op<'userAdd'>) {
    if (!this.s.domainExists.get(w.domain)) throw notFound('domain', w.domain);
    if (this.s.aliasGet.get(w.key) !== undefined)
      throw new StoreError('conflict', `an alias has this address: ${w.address}`);
    const r = this.s.userInsert.run(
      w.address,
      w.key,
      w.local.toLowerCase(),
      w.domain,
      w.passwordHash,
      w.isAdmin ? 1 : 0,
      w.now,
    );
    if (r.changes === 0) throw new StoreError('conflict', `user exists: ${w.address}`);
    return Number(r.lastInsertRowid);
  }

  private userRemove(w: Op<'userRemove'>) {
    const id = this.s.userByKey.get(w.key) as number | undefined;
    if (id === undefined) throw notFound('user', w.key);
    const blobIds = this.s.userBlobs.all(id) as number[];
    this.s.userDelete.run(id); // mailboxes and messages cascade
    for (const b of blobIds) this.s.blobFreeIfUnused.run(b);
    return null;
  }

  private aliasAdd(w: Op<'aliasAdd'>) {
    if (!this.s.domainExists.get(w.domain)) throw notFound('domain', w.domain);
    if (this.s.userByKey.get(w.key) !== undefined)
      throw new StoreError('conflict', `a user has this address: ${w.address}`);
    const old = this.s.aliasGet.get(w.key) as string | undefined;
    if (old === undefined) {
      this.s.aliasInsert.run(w.key, w.address, w.domain, JSON.stringify(w.targets), Date.now());
      return w.targets;
    }
    const merged = [...(JSON.parse(old) as string[])];
    const seen = new Set(merged.map((t) => t.toLowerCase()));
    for (const t of w.targets) if (!seen.has(t.toLowerCase())) merged.push(t);
    this.s.aliasUpdate.run(JSON.stringify(merged), w.key);
    return merged;
  }

  private mailboxEnsure(w: Op<'mailboxEnsure'>) {
    if (!this.s.userExists.get(w.userId)) throw notFound('user id', String(w.userId));
    this.insertMailbox(w.userId, w.name);
    return null;
  }

  private insertMailbox(userId: number, name: string) {
    const validity = this.s.nextUidValidity.get(Math.floor(Date.now() / 1000)) as number;
    this.s.mailboxInsert.run(userId, name, validity);
  }

  private expunge(w: Op<'expunge'>) {
    const blobIds = new Set<number>();
    for (const id of new Set(w.ids)) {
      const m = this.s.messageGet.get(id) as { mailboxId: number; blobId: number } | undefined;
      if (!m || m.mailboxId !== w.mailboxId)
        throw new StoreError('not-found', `no message ${id} in mailbox ${w.mailboxId}`);
      this.s.messageDelete.run(id);
      blobIds.add(m.blobId);
    }
    for (const b of blobIds) this.s.blobFreeIfUnused.run(b);
    return null;
  }

  private move(w: Op<'move'>) {
    const to = this.s.mailboxGet.get(w.toMailboxId) as { id: number; userId: number } | undefined;
    if (!to) throw notFound('mailbox', String(w.toMailboxId));
    const rows = [...new Set(w.ids)].map((id) => {
      const m = this.s.messageGet.get(id) as { mailboxId: number; uid: number; userId: number } | undefined;
      if (!m) throw notFound('message', String(id));
      if (m.userId !== to.userId)
        throw new StoreError('invalid', 'messages move only between mailboxes of one user');
      return { id, ...m };
    });
    rows.sort((a, b) => a.mailboxId - b.mailboxId || a.uid - b.uid);
    for (const r of rows) {
      if (r.mailboxId === to.id) continue;
      const uid = this.s.mailboxBumpById.get(to.id) as number;
      this.s.messageMove.run(to.id, uid, r.id);
    }
    return null;
  }

  private chunk(w: Op<'chunk'>) {
    const p = this.pending.get(w.key);
    if (w.seq === 0) {
      if (p) throw new StoreError('invalid', `delivery ${w.key} already started`);
      const blobId = Number(this.s.blobPending.run(process.pid, this.ownerToken, Date.now()).lastInsertRowid);
      this.s.chunkInsert.run(blobId, 0, w.data);
      this.pending.set(w.key, { blobId, nextSeq: 1 });
      return null;
    }
    if (!p || p.nextSeq !== w.seq)
      throw new StoreError('unavailable', `delivery ${w.key} lost its earlier chunks`);
    this.s.chunkInsert.run(p.blobId, w.seq, w.data);
    p.nextSeq++;
    return null;
  }

  private commit(w: Op<'commit'>) {
    const p = this.pending.get(w.key);
    const envelope = JSON.stringify(w.envelope);
    let blobId: number;
    if (p) {
      if (p.nextSeq !== w.seq)
        throw new StoreError('unavailable', `delivery ${w.key} lost its earlier chunks`);
      blobId = p.blobId;
      if (this.s.blobCommit.run(w.size, w.sha256, envelope, blobId).changes === 0) {
        throw new StoreError('unavailable', `delivery ${w.key} lost its bytes`);
      }
    } else {
      if (w.seq !== 0) throw new StoreError('unavailable', `delivery ${w.key} lost its earlier chunks`);
      blobId = Number(this.s.blobCommitted.run(w.size, w.sha256, envelope, w.receivedAt).lastInsertRowid);
    }
    if (w.tail) this.s.chunkInsert.run(blobId, w.seq, w.tail);
    const entries: CommittedEntry[] = [];
    for (const t of w.targets) {
      let mb = this.s.mailboxBump.get(t.userId, t.mailbox) as { id: number; uid: number } | undefined;
      if (!mb) {
        if (!this.s.userExists.get(t.userId)) throw notFound('user id', String(t.userId));
        this.insertMailbox(t.userId, t.mailbox);
        mb = this.s.mailboxBump.get(t.userId, t.mailbox) as { id: number; uid: number };
      }
      const id = Number(
        this.s.messageInsert.run(mb.id, mb.uid, blobId, t.flags, w.receivedAt).lastInsertRowid,
      );
      entries.push({ id, mailboxId: mb.id, uid: mb.uid });
    }
    this.pending.delete(w.key);
    if (w.queue.length === 0) return entries;
    return { entries, queued: this.queue.insert(w.queue, blobId, w.receivedAt) };
  }

  /** Drops a delivery's pending bytes (abort, or a failed commit). */
  discard(key: number): null {
    const p = this.pending.get(key);
    if (!p) return null;
    this.pending.delete(key);
    this.s.blobDelete.run(p.blobId);
    return null;
  }

  pendingKeys(): number[] {
    return [...this.pending.keys()];
  }

  close(): void {
    for (const k of this.pendingKeys()) this.discard(k);
    this.db.close();
  }
}

function notFound(what: string, name: string): StoreError {
  return new StoreError('not-found', `no such ${what}: ${name}`);
}
