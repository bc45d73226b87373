/**
 * `posthorn store copy`: moves an installation into a PostgreSQL store without losing a message
 * and without renumbering anything a client has seen. The source is any Store (read through the
 * Store interface: SQLite, memory, or another PostgreSQL); the target is written with SQL so that
 * user, mailbox and message ids, UIDVALIDITY, UIDs (POP3 UIDLs stay the same), flags, received
 * times, forwarding, vacation auto-replies, the delivery records of sent mail and the outbound
 * queue (recipient states and attempts; leases dropped) carry over exactly. Bytes are streamed chunk by chunk, hashed on the way and
 * checked against the source's sha256; identical bodies are stored once.
 *
 * Runs are repeatable: the first fills an empty target; a later run (`update: true`) brings it up
 * to date — new messages copied, expunged ones removed, flags, passwords, aliases and the queue
 * refreshed. The way to move a running installation is therefore: copy while it runs (the long
 * part), stop it, copy again (seconds), start the nodes on PostgreSQL.
 *
 * Verification: a manifest of both stores (every domain, user, alias, mailbox with its
 * UIDVALIDITY/UIDNEXT, message with uid, size, sha256 and flags, and queue entry) is hashed on
 * each side and must match, and every body copied in this run is read back from the target and
 * hashed. Writes use `synchronous_commit = off` per message; the final transaction is synchronous,
 * and its WAL flush covers everything before it, so a successful copy is durable.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { MessageMeta, QueueEntry, Store } from '../types.js';
import { StoreError } from '../types.js';
import { pgTypes } from './pool.js';
import { DEFAULT_CHUNK_SIZE, parsePostgresUrl } from './postgres-store.js';

export interface CopyOptions {
  /** Bring a target filled by an earlier copy up to date (else the target must be empty). */
  update?: boolean;
  /** Progress lines (one per user). */
  progress?(line: string): void;
  chunkSize?: number;
}

export interface StoreCounts {
  domains: number;
  users: number;
  aliases: number;
  mailboxes: number;
  messages: number;
  bytes: number;
  queueEntries: number;
}

export interface Manifest {
  counts: StoreCounts;
  /** sha256 over the sorted manifest lines. */
  sha256: string;
  /** The lines themselves, when asked for. */
  lines?: string[];
}

export interface CopyReport {
  source: Manifest;
  target: Manifest;
  copiedMessages: number;
  copiedBytes: number;
  removedMessages: number;
  /** Bodies re-read from the target and hashed in this run. */
  verifiedBodies: number;
  /** When the manifests differ: up to 10 lines only in the source (-) or only in the target (+). */
  differences: string[];
  queueEntries: number;
}

/** Describes a store in lines that must be identical after a copy, and counts. */
export async function storeManifest(store: Store, opts: { keepLines?: boolean } = {}): Promise<Manifest> {
  const lines: string[] = [];
  const counts: StoreCounts = {
    domains: 0,
    users: 0,
    aliases: 0,
    mailboxes: 0,
    messages: 0,
    bytes: 0,
    queueEntries: 0,
  };
  for (const d of await store.domains.list()) {
    lines.push(`domain ${d.name}`);
    counts.domains++;
  }
  for (const a of await store.aliases.list()) {
    lines.push(`alias ${a.address} ${a.targets.join(',')}`);
    counts.aliases++;
  }
  for (const u of await store.users.list()) {
    counts.users++;
    lines.push(
      `user ${u.id} ${u.address} ${u.passwordHash} ${u.isAdmin} ${JSON.stringify(u.forward ?? null)}`,
    );
    const v = await store.vacation.get(u.id);
    if (v)
      lines.push(`vacation ${u.id} ${v.enabled} ${v.intervalDays} ${JSON.stringify([v.subject, v.text])}`);
    for (const b of await store.mailboxes.list(u.id)) {
      counts.mailboxes++;
      lines.push(`mailbox ${u.id} ${b.name} ${b.uidValidity} ${b.uidNext}`);
      for (const m of await store.messages.list(b.id)) {
        counts.messages++;
        counts.bytes += m.size;
        lines.push(
          `message ${u.id} ${b.name} ${m.uid} ${m.size} ${m.sha256} ${m.flags.join(',')} ${m.receivedAt.getTime()}`,
        );
        const link = await store.sent.get(m.id);
        if (link) lines.push(`sent ${u.id} ${b.name} ${m.uid} ${canonicalJson(link)}`);
      }
    }
  }
  for (const e of await store.queue.list()) {
    counts.queueEntries++;
    const r = e.recipients.map((x) => `${x.address}:${x.state}:${x.attempts}`).join(',');
    lines.push(`queue ${e.id} ${e.mailFrom} ${e.sha256} ${e.expiresAt.getTime()} ${r}`);
  }
  lines.sort();
  const h = createHash('sha256');
  for (const l of lines) h.update(`${l}\n`);
  return { counts, sha256: h.digest('hex'), ...(opts.keepLines ? { lines } : {}) };
}

/** JSON with object keys sorted, so that the same value hashes alike from either backend. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** Lines only in `a` (-) or only in `b` (+), at most `max`. */
async function differences(a: Store, b: Store, max = 10): Promise<string[]> {
  const [x, y] = await Promise.all([
    storeManifest(a, { keepLines: true }),
    storeManifest(b, { keepLines: true }),
  ]);
  const inY = new Set(y.lines);
  const inX = new Set(x.lines);
  return [
    ...x.lines!.filter((l) => !inY.has(l)).map((l) => `- ${l}`),
    ...y.lines!.filter((l) => !inX.has(l)).map((l) => `+ ${l}`),
  ].slice(0, max);
}

const numericId = (id: string) => (/^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : undefined);

/**
 * Copies `source` into the PostgreSQL database at `targetUrl`; `target` is a store open on that
 * same database (it created or migrated the schema, and gives the target's manifest).
 */
export async function copyIntoPostgres(
  source: Store,
  target: Store,
  targetUrl: string,
  opts: CopyOptions = {},
): Promise<CopyReport> {
  if (target.kind !== 'postgres')
    throw new StoreError('invalid', 'the copy target must be a postgres:// store');
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const say = opts.progress ?? (() => {});
  const parsed = parsePostgresUrl(targetUrl);
  const c = new pg.Client({
    connectionString: parsed.connectionString,
    options: `${parsed.options ?? ''} -c synchronous_commit=off`.trim(),
    types: pgTypes,
    application_name: 'posthorn-copy',
  });
  c.on('error', () => {});
  try {
    await c.connect();
  } catch (err) {
    throw new StoreError('unavailable', `cannot reach the target: ${(err as Error).message}`);
  }
  try {
    const one = async <R extends pg.QueryResultRow>(sql: string, values: unknown[] = []) =>
      (await c.query<R>(sql, values)).rows;
    const existingUsers = await one<{ id: number; address_key: string }>('SELECT id, address_key FROM users');
    if (existingUsers.length > 0 && !opts.update) {
      throw new StoreError(
        'conflict',
        'the target already holds users; copy into an empty database, or use --update to refresh an earlier copy',
      );
    }
    // Bodies already in the target, by content: stored once.
    const blobBy = new Map<string, number>();
    for (const b of await one<{ id: number; sha256: string; size: number }>(
      'SELECT id, sha256, size FROM blobs WHERE state = 1',
    ))
      blobBy.set(`${b.sha256}:${b.size}`, b.id);
    const newBlobs: { id: number; sha256: string; size: number }[] = [];

    /** Streams a body into a new committed blob; returns its id (or an identical existing one). */
    // A Sent copy's delivery record (which recipients went where) travels with the message.
    const copySentLink = async (sourceId: string, targetId: number) => {
      const link = await source.sent.get(sourceId);
      if (!link) await c.query('DELETE FROM sent_links WHERE message_id = $1', [targetId]);
      else
        await c.query(
          `INSERT INTO sent_links (message_id, link) VALUES ($1, $2::jsonb)
           ON CONFLICT (message_id) DO UPDATE SET link = excluded.link`,
          [targetId, JSON.stringify(link)],
        );
    };

    const copyBody = async (
      meta: { sha256: string; size: number },
      bytes: AsyncIterable<Uint8Array>,
      envelope: unknown,
    ) => {
      const key = `${meta.sha256}:${meta.size}`;
      const have = blobBy.get(key);
      if (have !== undefined) return have;
      await c.query('BEGIN');
      try {
        const [row] = await one<{ id: number }>(
          'INSERT INTO blobs (state, size, sha256, envelope, created_at) VALUES (1, $1, $2, $3, $4) RETURNING id',
          [meta.size, meta.sha256, envelope === undefined ? null : JSON.stringify(envelope), Date.now()],
        );
        const id = row!.id;
        const h = createHash('sha256');
        let size = 0;
        let seq = 0;
        let parts: Buffer[] = [];
        let partsLen = 0;
        const flush = async () => {
          const data = Buffer.concat(parts, partsLen);
          parts = [];
          partsLen = 0;
          await c.query('INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)', [
            id,
            seq++,
            data,
          ]);
        };
        for await (const chunk of bytes) {
          h.update(chunk);
          size += chunk.byteLength;
          let off = 0;
          while (off < chunk.byteLength) {
            const take = Math.min(chunk.byteLength - off, chunkSize - partsLen);
            parts.push(Buffer.from(chunk.subarray(off, off + take)));
            partsLen += take;
            off += take;
            if (partsLen === chunkSize) await flush();
          }
        }
        if (partsLen > 0) await flush();
        const sha = h.digest('hex');
        if (sha !== meta.sha256 || size !== meta.size)
          throw new StoreError(
            'invalid',
            `source body changed or is corrupt (sha256 ${sha}, expected ${meta.sha256})`,
          );
        await c.query('COMMIT');
        blobBy.set(key, id);
        newBlobs.push({ id, sha256: meta.sha256, size: meta.size });
        return id;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        throw err;
      }
    };

    // Accounts.
    for (const d of await source.domains.list())
      await c.query('INSERT INTO domains (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
        d.name,
        d.createdAt.getTime(),
      ]);
    const srcUsers = await source.users.list();
    const srcUserIds = new Set(srcUsers.map((u) => u.id));
    for (const u of existingUsers)
      if (!srcUserIds.has(u.id)) await c.query('DELETE FROM users WHERE id = $1', [u.id]);
    for (const u of srcUsers) {
      const at = u.address.lastIndexOf('@');
      await c.query(
        `INSERT INTO users (id, address, address_key, local_key, domain, password_hash, is_admin, created_at, forward)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, is_admin = excluded.is_admin,
           forward = excluded.forward`,
        [
          u.id,
          u.address,
          u.address.toLowerCase(),
          u.address.slice(0, at).toLowerCase(),
          u.address.slice(at + 1).toLowerCase(),
          u.passwordHash,
          u.isAdmin,
          u.createdAt.getTime(),
          u.forward ? JSON.stringify(u.forward) : null,
        ],
      );
    }
    // Vacation replies (whom they answered is not copied: at worst a sender is answered again).
    for (const u of srcUsers) {
      const v = await source.vacation.get(u.id);
      if (!v) await c.query('DELETE FROM vacation WHERE user_id = $1', [u.id]);
      else
        await c.query(
          `INSERT INTO vacation (user_id, enabled, subject, body, interval_days, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, subject = excluded.subject,
             body = excluded.body, interval_days = excluded.interval_days, updated_at = excluded.updated_at`,
          [u.id, v.enabled, v.subject, v.text, v.intervalDays, v.updatedAt.getTime()],
        );
    }
    await c.query('DELETE FROM aliases');
    for (const a of await source.aliases.list()) {
      const at = a.address.lastIndexOf('@');
      await c.query(
        'INSERT INTO aliases (address_key, address, domain, targets, created_at) VALUES ($1, $2, $3, $4, $5)',
        [
          a.address.toLowerCase(),
          a.address,
          a.address.slice(at + 1).toLowerCase(),
          JSON.stringify(a.targets),
          Date.now(),
        ],
      );
    }

    // Mailboxes and messages.
    let copiedMessages = 0;
    let copiedBytes = 0;
    let removedMessages = 0;
    let maxValidity = 0;
    for (const u of srcUsers) {
      let userMessages = 0;
      for (const b of await source.mailboxes.list(u.id)) {
        maxValidity = Math.max(maxValidity, b.uidValidity);
        await c.query(
          `INSERT INTO mailboxes (id, user_id, name, uid_validity, uid_next) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET uid_next = greatest(mailboxes.uid_next, excluded.uid_next)`,
          [b.id, u.id, b.name, b.uidValidity, b.uidNext],
        );
        const src = await source.messages.list(b.id);
        const srcUids = new Map<number, MessageMeta>(src.map((m) => [m.uid, m]));
        const have = await one<{ id: number; uid: number; flags: string; blob_id: number }>(
          'SELECT id, uid, flags, blob_id FROM messages WHERE mailbox_id = $1',
          [b.id],
        );
        const haveUids = new Set<number>();
        for (const m of have) {
          const s = srcUids.get(m.uid);
          if (!s) {
            // Its body goes in the sweep at the end, unless another message (moved) still needs it.
            await c.query('DELETE FROM messages WHERE id = $1', [m.id]);
            removedMessages++;
            continue;
          }
          haveUids.add(m.uid);
          const flags = s.flags.join(' ');
          if (flags !== m.flags) await c.query('UPDATE messages SET flags = $1 WHERE id = $2', [flags, m.id]);
          await copySentLink(s.id, m.id);
        }
        for (const m of src) {
          if (haveUids.has(m.uid)) continue;
          const blobId = await copyBody(m, source.messages.read(m.id), undefined);
          const id = numericId(m.id);
          // The same id elsewhere is a stale copy of a message moved since the last run.
          if (id !== undefined) await c.query('DELETE FROM messages WHERE id = $1', [id]);
          const [row] = await one<{ id: number }>(
            `INSERT INTO messages (id, mailbox_id, uid, blob_id, flags, received_at)
             VALUES (coalesce($1, nextval('messages_id_seq')), $2, $3, $4, $5, $6) RETURNING id`,
            [id ?? null, b.id, m.uid, blobId, m.flags.join(' '), m.receivedAt.getTime()],
          );
          await copySentLink(m.id, Number(row!.id));
          copiedMessages++;
          copiedBytes += m.size;
          userMessages++;
        }
      }
      say(`${u.address}: ${userMessages} messages copied`);
    }

    // The queue: replaced by the source's (leases dropped: the nodes claim again).
    const srcQueue: QueueEntry[] = await source.queue.list();
    const oldQueueBlobs = await one<{ blob_id: number }>('DELETE FROM queue RETURNING blob_id');
    for (const e of srcQueue) {
      const blobId = await copyBody(e, source.queue.read(e.id), e.envelope);
      const id = numericId(e.id);
      const [row] = await one<{ id: number }>(
        `INSERT INTO queue (id, blob_id, mail_from, ret, envid, body8bit, smtputf8, created_at, expires_at, next_attempt_at)
         VALUES (coalesce($1, nextval('queue_id_seq')), $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
        [
          id ?? null,
          blobId,
          e.mailFrom,
          e.ret ?? null,
          e.envid ?? null,
          e.body8bit,
          e.smtputf8,
          e.createdAt.getTime(),
          e.expiresAt.getTime(),
          e.nextAttemptAt.getTime(),
        ],
      );
      for (const r of e.recipients) {
        await c.query(
          `INSERT INTO queue_recipients (queue_id, idx, address, orcpt, notify, state, attempts, next_attempt_at,
             last_attempt_at, last) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            row!.id,
            r.index,
            r.address,
            r.orcpt ?? null,
            r.notify?.join(',') ?? null,
            r.state,
            r.attempts,
            r.nextAttemptAt.getTime(),
            r.lastAttemptAt?.getTime() ?? null,
            r.last ? JSON.stringify(r.last) : null,
          ],
        );
      }
    }
    for (const { blob_id } of oldQueueBlobs)
      await c.query(
        `DELETE FROM blobs b WHERE b.id = $1 AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = b.id)`,
        [blob_id],
      );

    // Bodies nothing refers to any more (users removed, messages moved or expunged since the
    // last run).
    await c.query(
      `DELETE FROM blobs b WHERE b.state = 1 AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = b.id)
       AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = b.id)`,
    );

    // Sequences past every copied id, UIDVALIDITY counter past every copied mailbox; synchronous,
    // so this commit makes the whole copy durable.
    await c.query('BEGIN');
    await c.query('SET LOCAL synchronous_commit = on');
    for (const t of ['users', 'mailboxes', 'messages', 'blobs', 'queue'])
      await c.query(`SELECT setval('${t}_id_seq', greatest((SELECT max(id) FROM ${t}), 1))`);
    await c.query(`UPDATE counters SET value = greatest(value, $1) WHERE name = 'uid_validity'`, [
      maxValidity,
    ]);
    await c.query('COMMIT');

    // Verification: every body written in this run, read back and hashed.
    let verifiedBodies = 0;
    for (const b of newBlobs) {
      const h = createHash('sha256');
      let size = 0;
      for (let seq = 0; size < b.size; seq++) {
        const [row] = await one<{ data: Buffer }>(
          'SELECT data FROM blob_chunks WHERE blob_id = $1 AND seq = $2',
          [b.id, seq],
        );
        if (!row) break;
        h.update(row.data);
        size += row.data.length;
      }
      if (size !== b.size || h.digest('hex') !== b.sha256)
        throw new StoreError(
          'invalid',
          `verification failed: body ${b.sha256} reads back differently from the target`,
        );
      verifiedBodies++;
    }
    const sourceManifest = await storeManifest(source);
    const targetManifest = await storeManifest(target);
    return {
      source: sourceManifest,
      target: targetManifest,
      differences: sourceManifest.sha256 === targetManifest.sha256 ? [] : await differences(source, target),
      copiedMessages,
      copiedBytes,
      removedMessages,
      verifiedBodies,
      queueEntries: srcQueue.length,
    };
  } finally {
    await c.end().catch(() => {});
  }
}
