/**
 * The embedded default Store: one SQLite file (better-sqlite3 v12) in WAL mode.
 *
 * Threads. better-sqlite3 is synchronous and an fsync takes milliseconds, so every write runs in
 * one writer thread (node:worker_threads, writer-worker.ts): the main thread never waits on the
 * disk for a write. What a delivery costs the main thread is copying and hashing its bytes
 * (measured: 0.04-0.1 ms per 64 KiB write) and posting messages; a 25 MiB delivery is committed
 * in ~0.3 s while the event loop keeps serving other sessions. Reads (listing, fetching bytes)
 * run on the main thread through a second, read-only connection: WAL readers never wait for the
 * writer, and each read statement is short (one indexed query, or one chunk row per step).
 *
 * Group commit. Requests made in one event-loop turn travel to the writer in one message; the
 * writer puts everything that arrived while its previous transaction was being written and synced
 * into the next transaction, so concurrent deliveries share one fsync. A commit resolves only
 * after its transaction is durable. bench/store.bench.ts, 4 KiB messages, commits/s at 1/20/100
 * concurrent deliveries, 2 cores, quiet machine: FULL 2,479 / 14,133 / 18,119; NORMAL 4,441 /
 * 16,705 / 20,126; the peer (better-sqlite3, one fsync per message) 5,739 / 3,175 / 1,500.
 *
 * Durability. `synchronous = FULL` by default: in WAL mode SQLite then fsyncs the log at every
 * commit, so a resolved commit survives a SIGKILL and a power loss. NORMAL survives a SIGKILL (the
 * log is in the OS page cache) but not a power loss; group commit makes FULL cost one fsync per
 * batch, and the measured gap at 20 concurrent deliveries is 15-20%, so FULL it is.
 *
 * Bytes. A message's bytes are stored once per delivery in `blob_chunks` rows of `chunkSize`
 * (256 KiB: a typical message is one row), written while they arrive and read back row by row,
 * never whole in memory. Rows, not files beside the database: one WAL fsync covers the bytes and
 * the metadata of a whole batch, where files need an fsync of each file and of its directory per
 * message (the per-message-fsync peer above shows that ceiling); and the PostgreSQL store can keep
 * the same layout. Blobs of deliveries that never committed are deleted by abort, or reclaimed on
 * the next open once their process is gone (crash).
 *
 * Schema: schema.ts (ordered migrations, `PRAGMA user_version`; a newer schema is refused);
 * foreign keys on. The maildrop lock is an in-process table (one node owns a SQLite file): it
 * dies with `release()` or with the process.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LiveSet, type Logger, silentLogger } from '../../core/index.js';
import { validateQueueInputs } from '../memory/queue-rules.js';
import {
  lookupDomain,
  lookupKey,
  normalizeAddress,
  normalizeDomain,
  normalizeFlags,
  normalizeMailboxName,
  normalizeTargets,
} from '../names.js';
import { ReadCache } from '../read-cache.js';
import { parseMessageId, parseQueueId } from '../rows.js';
import type { Delivery, DeliveryOptions, Domain, MaildropLock, QueueClaim, Store, User } from '../types.js';
import { StoreError } from '../types.js';
import {
  activeVacations,
  claimWindow,
  senderKey,
  validateOutcomes,
  validateSentLink,
  validateVacation,
} from '../vacation-rules.js';
import { AccountStamp } from './account-stamp.js';
import { SqliteDelivery } from './delivery.js';
import { FeaturesReader } from './features-sql.js';
import type { WriteOp } from './protocol.js';
import { QueueReader } from './queue-sql.js';
import { failing, Reader } from './reader.js';
import { WriterClient } from './writer-client.js';

/** Bytes per chunk row: large enough that a typical message (< 256 KiB) is one row. */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
/** Unacknowledged chunks per delivery before `write` waits (1 MiB in flight by default). */
export const DEFAULT_MAX_INFLIGHT_CHUNKS = 4;
/** Unacknowledged chunk bytes of all deliveries together (the writer thread's backlog). */
export const DEFAULT_MAX_INFLIGHT_BYTES = 64 * 1024 * 1024;
/** Chunk bytes per writer transaction, so that one batch stays a short step. */
export const DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** How long a write waits for another process (an admin command) holding the write lock. */
export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
/** Age limit of cached account lookups when no change signal arrives (see ../read-cache.ts). */
export const DEFAULT_ACCOUNT_CACHE_TTL_MS = 5_000;
/** Writes after which the account cache is emptied here and in every other process. */
const ACCOUNT_OPS: ReadonlySet<WriteOp['op']> = new Set([
  'domainAdd',
  'domainRemove',
  'userAdd',
  'userSetPassword',
  'userRemove',
  'userSetForward',
  'aliasAdd',
  'aliasRemove',
  'vacationSet',
]);

export interface SqliteStoreOptions {
  /** Migrations and reclaimed space are logged here (default: silent). */
  logger?: Logger;
  /** 'full' (default) survives power loss; 'normal' survives a process crash only. */
  synchronous?: 'full' | 'normal';
  /** Bytes per stored chunk row (DEFAULT_CHUNK_SIZE); 1 KiB to 64 MiB. */
  chunkSize?: number;
  /** Unacknowledged chunks per delivery before its `write` waits (DEFAULT_MAX_INFLIGHT_CHUNKS). */
  maxInflightChunks?: number;
  /** Unacknowledged chunk bytes of all deliveries together before writers wait. */
  maxInflightBytes?: number;
  /** Chunk bytes per writer transaction (DEFAULT_MAX_BATCH_BYTES). */
  maxBatchBytes?: number;
  /** Wait for another process's write lock, and bound of the reader's wait (2 s at most). */
  busyTimeoutMs?: number;
  /** Age limit of cached account lookups; 0 turns the cache off. */
  accountCacheTtlMs?: number;
}

const PROCESS_TOKEN = randomInt(1, 2 ** 47);

/** Maildrop locks per database file, shared by every store of this process that opens it. */
const maildropLocks = new Map<string, Set<number>>();

/** Opens (creating and migrating when needed) the SQLite store at `path`. */
export async function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Promise<Store> {
  const log = (opts.logger ?? silentLogger).child({ store: 'sqlite' });
  const file = resolve(path);
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1024 || chunkSize > 64 * 1024 * 1024) {
    throw new StoreError('invalid', `chunk size out of range: ${chunkSize}`);
  }
  const maxInflight = Math.max(1, opts.maxInflightChunks ?? DEFAULT_MAX_INFLIGHT_CHUNKS);
  const budget = { used: 0, limit: opts.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT_BYTES };
  const busyTimeoutMs = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  try {
    mkdirSync(dirname(file), { recursive: true });
  } catch (err) {
    throw new StoreError('unavailable', `cannot create ${dirname(file)}: ${(err as Error).message}`);
  }
  const { client: writer, info } = await WriterClient.start({
    path: file,
    synchronous: opts.synchronous ?? 'full',
    maxBatchBytes: opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
    busyTimeoutMs,
    ownerToken: PROCESS_TOKEN,
  });
  let reader: Reader;
  try {
    // WAL readers wait only in rare recovery moments; never block the event loop for long.
    reader = new Reader(file, Math.min(busyTimeoutMs, 2000));
  } catch (err) {
    await writer.close();
    throw new StoreError('unavailable', `cannot open ${file} for reading: ${(err as Error).message}`);
  }
  if (info.migrated > 0)
    log.info({ path: file, schemaVersion: info.schemaVersion, steps: info.migrated }, 'store migrated');
  if (info.reclaimed > 0)
    log.info({ path: file, blobs: info.reclaimed }, 'reclaimed bytes of unfinished deliveries');

  const queueReader = new QueueReader(reader.db);
  // Account lookups are cached (../read-cache.ts): under write load every SQLite read statement
  // starts on a cold page cache (the WAL moved on), and SMTP makes five or more per message.
  const cache = new ReadCache(opts.accountCacheTtlMs ?? DEFAULT_ACCOUNT_CACHE_TTL_MS);
  const stamp = new AccountStamp(file);
  if (!stamp.watch(() => cache.invalidate())) log.warn({ path: file }, 'cannot watch the account stamp');
  const call = async <T = void>(op: WriteOp, transfer?: ArrayBuffer): Promise<T> => {
    try {
      return await writer.call<T>(op, transfer);
    } finally {
      if (ACCOUNT_OPS.has(op.op)) {
        cache.invalidate();
        stamp.touch();
      }
    }
  };
  const featuresReader = new FeaturesReader(reader.db);
  let locks = maildropLocks.get(file);
  if (!locks) maildropLocks.set(file, (locks = new Set()));
  const myLocks = new Set<number>();
  const deliveries = new LiveSet<SqliteDelivery>();
  let nextKey = 1;
  let closed = false;

  const live = () => {
    if (closed) throw new StoreError('unavailable', 'store is closed');
  };
  const read = async <T>(fn: () => T): Promise<T> => {
    live();
    return fn();
  };
  const userKey = (address: string) => normalizeAddress(address).key;
  const messageId = (id: string) => {
    const n = parseMessageId(id);
    if (n === undefined) throw new StoreError('not-found', `no such message: ${id}`);
    return n;
  };

  const vacationOf = (userId: number) =>
    read(() => cache.getSync(`v:${userId}`, () => featuresReader.vacation(userId)));

  const store: Store = {
    kind: 'sqlite',

    domains: {
      add: async (name) => {
        live();
        const r = await call<{ name: string; createdAt: number }>({
          op: 'domainAdd',
          name: normalizeDomain(name),
          now: Date.now(),
        });
        return { name: r.name, createdAt: new Date(r.createdAt) } satisfies Domain;
      },
      list: () => read(() => reader.domains()),
      has: (name) =>
        read(() => {
          const d = lookupDomain(name);
          return d !== undefined && cache.getSync(`d:${d}`, () => reader.hasDomain(d));
        }),
      remove: async (name) => {
        live();
        await call({ op: 'domainRemove', name: normalizeDomain(name) });
      },
    },

    users: {
      add: async (input) => {
        live();
        const a = normalizeAddress(input.address);
        const now = Date.now();
        const id = await call<number>({
          op: 'userAdd',
          address: a.address,
          key: a.key,
          local: a.local,
          domain: a.domain,
          passwordHash: input.passwordHash,
          isAdmin: input.isAdmin ?? false,
          now,
        });
        return {
          id,
          address: a.address,
          passwordHash: input.passwordHash,
          isAdmin: input.isAdmin ?? false,
          createdAt: new Date(now),
        } satisfies User;
      },
      get: (address) =>
        read(() => {
          const key = lookupKey(address);
          return key === undefined ? undefined : cache.getSync(`u:${key}`, () => reader.userByKey(key));
        }),
      getById: (id) => read(() => cache.getSync(`i:${id}`, () => reader.userById(id))),
      findByLocalPart: (local) => read(() => reader.usersByLocal(local.toLowerCase())),
      list: (domain) =>
        read(() => {
          if (domain === undefined) return reader.users();
          const d = lookupDomain(domain);
          return d === undefined ? [] : reader.users(d);
        }),
      setPassword: async (address, passwordHash) => {
        live();
        await call({ op: 'userSetPassword', key: userKey(address), passwordHash });
      },
      remove: async (address) => {
        live();
        await call({ op: 'userRemove', key: userKey(address) });
      },
      setForward: async (address, forward) => {
        live();
        const value = forward
          ? JSON.stringify({ targets: normalizeTargets(forward.targets), keep: forward.keep })
          : null;
        if (forward && forward.targets.length === 0)
          throw new StoreError('invalid', 'forwarding needs at least one target');
        await call({ op: 'userSetForward', key: userKey(address), forward: value });
      },
    },

    aliases: {
      add: async (address, targets) => {
        live();
        const a = normalizeAddress(address);
        const t = normalizeTargets(targets);
        if (t.length === 0) throw new StoreError('invalid', 'an alias needs at least one target');
        const merged = await call<string[]>({
          op: 'aliasAdd',
          address: a.address,
          key: a.key,
          domain: a.domain,
          targets: t,
          now: Date.now(),
        });
        return { address: reader.alias(a.key)?.address ?? a.address, targets: merged };
      },
      get: (address) =>
        read(() => {
          const key = lookupKey(address);
          return key === undefined ? undefined : cache.getSync(`a:${key}`, () => reader.alias(key));
        }),
      list: (domain) =>
        read(() => {
          if (domain === undefined) return reader.aliases();
          const d = lookupDomain(domain);
          return d === undefined ? [] : reader.aliases(d);
        }),
      remove: async (address) => {
        live();
        await call({ op: 'aliasRemove', key: userKey(address) });
      },
    },

    mailboxes: {
      ensure: async (userId, name) => {
        live();
        const n = normalizeMailboxName(name);
        const existing = reader.mailbox(userId, n);
        if (existing) return existing;
        await call({ op: 'mailboxEnsure', userId, name: n });
        return reader.mailbox(userId, n)!;
      },
      get: (userId, name) => read(() => reader.mailbox(userId, normalizeMailboxName(name))),
      list: (userId) => read(() => reader.mailboxes(userId)),
    },

    messages: {
      list: (mailboxId) => read(() => reader.messages(mailboxId)),
      get: (id) => read(() => reader.message(id)),
      // A read that outlives close() ends with 'unavailable', not with a driver error.
      read: (id) => {
        live();
        return reader.read(id, live);
      },
      readSmall: (ids, budget) => read(() => reader.readSmall(ids, budget)),
      setFlags: async (id, flags) => {
        live();
        await call({ op: 'setFlags', id: messageId(id), flags: normalizeFlags(flags).join(' ') });
      },
      expunge: async (mailboxId, ids) => {
        live();
        if (ids.length === 0) return;
        await call({ op: 'expunge', mailboxId, ids: ids.map(messageId) });
      },
      move: async (ids, toMailboxId) => {
        live();
        if (ids.length === 0) return;
        await call({ op: 'move', ids: ids.map(messageId), toMailboxId });
      },
    },

    queue: {
      claim: async (o) => {
        live();
        const now = (o.now ?? new Date()).getTime();
        return call<QueueClaim[]>({
          op: 'queueClaim',
          owner: o.owner,
          limit: o.limit,
          leaseMs: o.leaseMs,
          now,
        });
      },
      update: async (id, token, updates, o) => {
        live();
        await call({ op: 'queueUpdate', id, token, updates, keepLease: !!o?.keepLease });
      },
      renew: async (id, token, leaseMs) => {
        live();
        await call({ op: 'queueRenew', id, token, leaseMs });
      },
      release: async (id, token) => {
        live();
        await call({ op: 'queueRelease', id, token });
      },
      list: (o) => read(() => queueReader.list(o?.limit ?? -1)),
      get: (id) => read(() => queueReader.get(id)),
      read: (id) => {
        live();
        const b = queueReader.blob(id);
        if (!b) return failing(new StoreError('not-found', `no such queue entry: ${id}`));
        return reader.readBlob(b.blobId, b.size, `queue entry ${id}`, live);
      },
      retry: async (id, now) => {
        live();
        return call<number>({ op: 'queueRetry', id, now: (now ?? new Date()).getTime() });
      },
      remove: async (id) => {
        live();
        await call({ op: 'queueRemove', id });
      },
      count: () => read(() => queueReader.count()),
    },

    vacation: {
      get: vacationOf,
      set: async (userId, settings) => {
        live();
        const v = validateVacation(settings);
        const now = await call<number>({ op: 'vacationSet', userId, settings: v, now: Date.now() });
        return { ...v, updatedAt: new Date(now) };
      },
      // Asked after every delivery: answered from the account cache (vacationSet empties it).
      active: (userIds) => activeVacations(userIds, vacationOf),
      claimReply: async (userId, sender, now, intervalMs) => {
        live();
        const key = senderKey(sender);
        const since = claimWindow(now, intervalMs);
        return call<boolean>({ op: 'vacationClaim', userId, sender: key, now: now.getTime(), since });
      },
    },

    sent: {
      link: async (id, link) => {
        live();
        await call({ op: 'sentLink', messageId: messageId(id), link: validateSentLink(link) });
      },
      get: (id) =>
        read(() => {
          const n = parseMessageId(id);
          return n === undefined ? undefined : featuresReader.link(n);
        }),
      record: async (outcomes, now) => {
        live();
        const list = validateOutcomes(outcomes);
        await call({ op: 'sentRecord', outcomes: list, now: (now ?? new Date()).getTime() });
      },
      outcomes: (queueId, sha256) =>
        read(() => {
          const n = parseQueueId(queueId);
          return n === undefined ? [] : featuresReader.outcomes(n, sha256);
        }),
    },

    openDelivery: async (dopts: DeliveryOptions): Promise<Delivery> => {
      live();
      const queue = validateQueueInputs(dopts.queue);
      if (dopts.targets.length === 0 && queue.length === 0)
        throw new StoreError('invalid', 'a delivery needs at least one target');
      const targets = dopts.targets.map((t) => ({
        userId: t.userId,
        mailbox: normalizeMailboxName(t.mailbox ?? 'INBOX'),
        flags: normalizeFlags(t.flags).join(' '),
      }));
      const d = new SqliteDelivery(
        writer,
        nextKey++,
        targets,
        dopts,
        { chunkSize, maxInflight, budget },
        (done) => deliveries.delete(done),
        queue,
      );
      deliveries.add(d);
      return d;
    },

    lockMaildrop: async (userId) => {
      live();
      if (locks.has(userId)) return undefined;
      locks.add(userId);
      myLocks.add(userId);
      let held = true;
      return {
        release: async () => {
          if (!held) return;
          held = false;
          locks.delete(userId);
          myLocks.delete(userId);
        },
      } satisfies MaildropLock;
    },

    close: async () => {
      if (closed) return;
      closed = true;
      const gone = new StoreError('unavailable', 'store is closed');
      await Promise.allSettled([...deliveries].map((d) => d.committing ?? d.fail(gone)));
      stamp.close();
      // The reader goes first so that the writer, closing last, checkpoints and removes the WAL.
      reader.close();
      await writer.close();
      for (const u of myLocks) locks.delete(u);
      myLocks.clear();
    },
  };
  return store;
}
