/**
 * The in-memory Store: the reference implementation of the contract in ../types.ts, used by the
 * tests of every other layer. It keeps the same semantics as the durable backends, except that
 * nothing survives the process:
 * - a delivery's bytes are kept as the chunks written (copied, so the caller may reuse its buffer)
 *   and become visible only in `commit`, which applies every target at once (JavaScript runs it
 *   without interruption, so it is atomic) and assigns uids then;
 * - message bytes are stored once per delivery and reference-counted by mailbox entries; expunge,
 *   user removal and the last reference gone free them;
 * - the maildrop lock is an in-process table.
 * Errors are StoreError ('conflict', 'not-found', 'invalid'; 'unavailable' after close).
 */
import { createHash } from 'node:crypto';
import {
  lookupDomain,
  lookupKey,
  normalizeAddress,
  normalizeDomain,
  normalizeFlags,
  normalizeMailboxName,
  normalizeTargets,
} from '../names.js';
import { withinBudget } from '../rows.js';
import {
  type Alias,
  type CommitResult,
  type Delivery,
  type DeliveryOptions,
  type Domain,
  type Mailbox,
  type MaildropLock,
  type MessageMeta,
  type Store,
  type StoredEnvelope,
  StoreError,
  type User,
} from '../types.js';
import { createMemoryFeatures } from './memory-features.js';
import { createMemoryQueue, type QueueBlobs } from './memory-queue.js';

interface Blob {
  chunks: Buffer[];
  size: number;
  sha256: string;
  refs: number;
  envelope: StoredEnvelope;
}

interface Entry {
  id: number;
  mailboxId: number;
  uid: number;
  blobId: number;
  flags: string[];
  receivedAt: Date;
}

interface AliasRec {
  address: string;
  domain: string;
  targets: string[];
}

/** What tests may inspect to check that space is freed. Not part of the Store contract. */
export interface MemoryStoreStats {
  blobs: number;
  bytes: number;
}

export interface MemoryStore extends Store {
  stats(): MemoryStoreStats;
}

const copyUser = (u: User): User => {
  const c: User = { ...u, createdAt: new Date(u.createdAt) };
  if (u.forward) c.forward = { targets: [...u.forward.targets], keep: u.forward.keep };
  return c;
};

/** A fresh, empty in-memory store. */
export function createMemoryStore(): MemoryStore {
  const domains = new Map<string, Domain>();
  const users = new Map<string, User>(); // by lower-cased address
  const usersById = new Map<number, User>();
  const aliases = new Map<string, AliasRec>(); // by lower-cased address
  const mailboxes = new Map<number, Mailbox>();
  const entries = new Map<number, Entry>();
  const blobs = new Map<number, Blob>();
  const locks = new Set<number>();
  const openDeliveries = new Set<{ abort(): Promise<void> }>();
  let nextUserId = 1;
  let nextMailboxId = 1;
  let nextEntryId = 1;
  let nextBlobId = 1;
  let lastUidValidity = 0;
  let closed = false;
  const queueBlobs: QueueBlobs = {
    chunks: (blobId) => blobs.get(blobId)!.chunks,
    meta: (blobId) => {
      const b = blobs.get(blobId)!;
      return { size: b.size, sha256: b.sha256, envelope: structuredClone(b.envelope) };
    },
    unref: (blobId) => unref(blobId),
  };
  const queue = createMemoryQueue(queueBlobs, () => live());
  const features = createMemoryFeatures({
    live: () => live(),
    hasUser: (id) => usersById.has(id),
    hasMessage: (id) => entry(id) !== undefined,
  });

  const live = () => {
    if (closed) throw new StoreError('unavailable', 'store is closed');
  };
  // Every operation is async like the durable backends', so callers cannot come to rely on
  // synchronous side effects.
  const run = async <T>(fn: () => T): Promise<T> => {
    live();
    return fn();
  };

  const meta = (e: Entry): MessageMeta => {
    const b = blobs.get(e.blobId)!;
    return {
      id: String(e.id),
      mailboxId: e.mailboxId,
      uid: e.uid,
      size: b.size,
      flags: [...e.flags],
      receivedAt: new Date(e.receivedAt),
      sha256: b.sha256,
    };
  };

  const entry = (id: string): Entry | undefined => {
    const n = Number(id);
    return Number.isSafeInteger(n) ? entries.get(n) : undefined;
  };

  const unref = (blobId: number) => {
    const b = blobs.get(blobId)!;
    if (--b.refs === 0) blobs.delete(blobId);
  };

  const findMailbox = (userId: number, name: string) => {
    for (const m of mailboxes.values()) if (m.userId === userId && m.name === name) return m;
    return undefined;
  };

  const ensureMailbox = (userId: number, rawName: string): Mailbox => {
    const name = normalizeMailboxName(rawName);
    if (!usersById.has(userId)) throw new StoreError('not-found', `no user with id ${userId}`);
    let m = findMailbox(userId, name);
    if (!m) {
      // Above every earlier UIDVALIDITY, so a mailbox created again never repeats (validity, uid).
      lastUidValidity = Math.max(Math.floor(Date.now() / 1000), lastUidValidity + 1);
      m = { id: nextMailboxId++, userId, name, uidValidity: lastUidValidity, uidNext: 1 };
      mailboxes.set(m.id, m);
    }
    return m;
  };

  const userOrThrow = (address: string) => {
    const u = users.get(normalizeAddress(address).key);
    if (!u) throw new StoreError('not-found', `no such user: ${address}`);
    return u;
  };

  const store: MemoryStore = {
    kind: 'memory',

    domains: {
      add: (name) =>
        run(() => {
          const d = normalizeDomain(name);
          if (domains.has(d)) throw new StoreError('conflict', `domain exists: ${d}`);
          const rec = { name: d, createdAt: new Date() };
          domains.set(d, rec);
          return { ...rec };
        }),
      list: () =>
        run(() => [...domains.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((d) => ({ ...d }))),
      has: (name) =>
        run(() => {
          const d = lookupDomain(name);
          return d !== undefined && domains.has(d);
        }),
      remove: (name) =>
        run(() => {
          const d = normalizeDomain(name);
          if (!domains.has(d)) throw new StoreError('not-found', `no such domain: ${d}`);
          const inUse =
            [...users.values()].some((u) => normalizeAddress(u.address).domain === d) ||
            [...aliases.values()].some((a) => a.domain === d);
          if (inUse) throw new StoreError('conflict', `domain ${d} still has users or aliases`);
          domains.delete(d);
        }),
    },

    users: {
      add: (input) =>
        run(() => {
          const a = normalizeAddress(input.address);
          if (!domains.has(a.domain)) throw new StoreError('not-found', `no such domain: ${a.domain}`);
          if (users.has(a.key)) throw new StoreError('conflict', `user exists: ${a.address}`);
          if (aliases.has(a.key)) throw new StoreError('conflict', `an alias has this address: ${a.address}`);
          const u: User = {
            id: nextUserId++,
            address: a.address,
            passwordHash: input.passwordHash,
            isAdmin: input.isAdmin ?? false,
            createdAt: new Date(),
          };
          users.set(a.key, u);
          usersById.set(u.id, u);
          return copyUser(u);
        }),
      get: (address) =>
        run(() => {
          const key = lookupKey(address);
          const u = key === undefined ? undefined : users.get(key);
          return u && copyUser(u);
        }),
      getById: (id) =>
        run(() => {
          const u = usersById.get(id);
          return u && copyUser(u);
        }),
      findByLocalPart: (localPart) =>
        run(() => {
          const l = localPart.toLowerCase();
          return [...users.values()]
            .filter((u) => normalizeAddress(u.address).local.toLowerCase() === l)
            .sort((a, b) => a.id - b.id)
            .map(copyUser);
        }),
      list: (domain) =>
        run(() => {
          const d = domain === undefined ? undefined : lookupDomain(domain);
          if (domain !== undefined && d === undefined) return [];
          return [...users.values()]
            .filter((u) => d === undefined || normalizeAddress(u.address).domain === d)
            .sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1))
            .map(copyUser);
        }),
      setPassword: (address, passwordHash) =>
        run(() => {
          userOrThrow(address).passwordHash = passwordHash;
        }),
      setForward: (address, forward) =>
        run(() => {
          const u = userOrThrow(address);
          if (!forward) {
            delete u.forward;
            return;
          }
          const targets = normalizeTargets(forward.targets);
          if (targets.length === 0) throw new StoreError('invalid', 'forwarding needs at least one target');
          u.forward = { targets, keep: forward.keep };
        }),
      remove: (address) =>
        run(() => {
          const u = userOrThrow(address);
          for (const m of [...mailboxes.values()]) {
            if (m.userId !== u.id) continue;
            for (const e of [...entries.values()]) {
              if (e.mailboxId !== m.id) continue;
              entries.delete(e.id);
              features.forgetMessage(String(e.id));
              unref(e.blobId);
            }
            mailboxes.delete(m.id);
          }
          users.delete(normalizeAddress(u.address).key);
          usersById.delete(u.id);
          features.forgetUser(u.id);
        }),
    },

    aliases: {
      add: (address, targets) =>
        run(() => {
          const a = normalizeAddress(address);
          const t = normalizeTargets(targets);
          if (t.length === 0) throw new StoreError('invalid', 'an alias needs at least one target');
          if (!domains.has(a.domain)) throw new StoreError('not-found', `no such domain: ${a.domain}`);
          if (users.has(a.key)) throw new StoreError('conflict', `a user has this address: ${a.address}`);
          let rec = aliases.get(a.key);
          if (!rec) {
            rec = { address: a.address, domain: a.domain, targets: [] };
            aliases.set(a.key, rec);
          }
          rec.targets = normalizeTargets([...rec.targets, ...t]);
          return { address: rec.address, targets: [...rec.targets] };
        }),
      get: (address) =>
        run(() => {
          const key = lookupKey(address);
          const rec = key === undefined ? undefined : aliases.get(key);
          return rec && { address: rec.address, targets: [...rec.targets] };
        }),
      list: (domain) =>
        run(() => {
          const d = domain === undefined ? undefined : lookupDomain(domain);
          if (domain !== undefined && d === undefined) return [];
          return [...aliases.values()]
            .filter((a) => d === undefined || a.domain === d)
            .sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1))
            .map((a): Alias => ({ address: a.address, targets: [...a.targets] }));
        }),
      remove: (address) =>
        run(() => {
          const key = normalizeAddress(address).key;
          if (!aliases.delete(key)) throw new StoreError('not-found', `no such alias: ${address}`);
        }),
    },

    mailboxes: {
      ensure: (userId, name) => run(() => ({ ...ensureMailbox(userId, name) })),
      get: (userId, name) =>
        run(() => {
          const m = findMailbox(userId, normalizeMailboxName(name));
          return m && { ...m };
        }),
      list: (userId) =>
        run(() => [...mailboxes.values()].filter((m) => m.userId === userId).map((m) => ({ ...m }))),
    },

    messages: {
      list: (mailboxId) =>
        run(() =>
          [...entries.values()]
            .filter((e) => e.mailboxId === mailboxId)
            .sort((a, b) => a.uid - b.uid)
            .map(meta),
        ),
      get: (id) =>
        run(() => {
          const e = entry(id);
          return e && meta(e);
        }),
      read: (id) => readBlob(id),
      readSmall: (ids, budget) =>
        run(() => {
          function* found(): Generator<[string, Uint8Array]> {
            for (const id of ids) {
              const e = entry(id);
              const blob = e && blobs.get(e.blobId)!;
              if (blob && blob.size > 0) yield [id, Buffer.concat(blob.chunks)];
            }
          }
          return withinBudget(found(), budget);
        }),
      setFlags: (id, flags) =>
        run(() => {
          const e = entry(id);
          if (!e) throw new StoreError('not-found', `no such message: ${id}`);
          e.flags = normalizeFlags(flags);
        }),
      expunge: (mailboxId, ids) =>
        run(() => {
          const list = ids.map((id) => {
            const e = entry(id);
            if (!e || e.mailboxId !== mailboxId)
              throw new StoreError('not-found', `no message ${id} in mailbox ${mailboxId}`);
            return e;
          });
          for (const e of new Set(list)) {
            entries.delete(e.id);
            features.forgetMessage(String(e.id));
            unref(e.blobId);
          }
        }),
      move: (ids, toMailboxId) =>
        run(() => {
          const to = mailboxes.get(toMailboxId);
          if (!to) throw new StoreError('not-found', `no such mailbox: ${toMailboxId}`);
          const list = [...new Set(ids)].map((id) => {
            const e = entry(id);
            if (!e) throw new StoreError('not-found', `no such message: ${id}`);
            if (mailboxes.get(e.mailboxId)!.userId !== to.userId) {
              throw new StoreError('invalid', 'messages move only between mailboxes of one user');
            }
            return e;
          });
          list.sort((a, b) => a.mailboxId - b.mailboxId || a.uid - b.uid);
          for (const e of list) {
            if (e.mailboxId === to.id) continue;
            e.mailboxId = to.id;
            e.uid = to.uidNext++;
          }
        }),
    },

    queue: queue.repo,
    vacation: features.vacation,
    sent: features.sent,

    openDelivery: (opts) => run(() => openDelivery(opts)),

    lockMaildrop: (userId) =>
      run((): MaildropLock | undefined => {
        if (locks.has(userId)) return undefined;
        locks.add(userId);
        let held = true;
        return {
          release: async () => {
            if (held) locks.delete(userId);
            held = false;
          },
        };
      }),

    close: async () => {
      if (closed) return;
      for (const d of [...openDeliveries]) await d.abort();
      closed = true;
      locks.clear();
    },

    stats: () => ({ blobs: blobs.size, bytes: [...blobs.values()].reduce((n, b) => n + b.size, 0) }),
  };

  async function* readBlob(id: string): AsyncIterable<Uint8Array> {
    live();
    const e = entry(id);
    if (!e) throw new StoreError('not-found', `no such message: ${id}`);
    // The chunk list is immutable once committed, so it can be walked even if expunged meanwhile.
    for (const c of blobs.get(e.blobId)!.chunks) yield Buffer.from(c);
  }

  function openDelivery(opts: DeliveryOptions): Delivery {
    const queueInputs = queue.validate(opts.queue);
    if (opts.targets.length === 0 && queueInputs.length === 0)
      throw new StoreError('invalid', 'a delivery needs at least one target');
    const targets = opts.targets.map((t) => ({
      userId: t.userId,
      mailbox: normalizeMailboxName(t.mailbox ?? 'INBOX'),
      flags: normalizeFlags(t.flags),
    }));
    let envelope: StoredEnvelope;
    try {
      envelope = structuredClone(opts.envelope);
    } catch (err) {
      throw new StoreError('invalid', `cannot store the envelope: ${(err as Error).message}`);
    }
    const chunks: Buffer[] = [];
    const hash = createHash('sha256');
    let size = 0;
    let state: 'open' | 'done' = 'open';
    const check = () => {
      live();
      if (state !== 'open') throw new StoreError('invalid', 'delivery already committed or aborted');
    };
    const d = {
      write: async (chunk: Uint8Array) => {
        check();
        const c = Buffer.from(chunk); // a copy: the caller may reuse its buffer
        chunks.push(c);
        hash.update(c);
        size += c.length;
      },
      commit: async (): Promise<CommitResult> => {
        check();
        state = 'done';
        openDeliveries.delete(d);
        // Validate every target before touching anything: all or none.
        for (const t of targets) {
          if (!usersById.has(t.userId)) throw new StoreError('not-found', `no user with id ${t.userId}`);
        }
        const sha256 = hash.digest('hex');
        const blobId = nextBlobId++;
        blobs.set(blobId, { chunks, size, sha256, refs: targets.length + queueInputs.length, envelope });
        const receivedAt = opts.receivedAt ?? new Date();
        const messages = targets.map((t) => {
          const m = ensureMailbox(t.userId, t.mailbox);
          const e: Entry = {
            id: nextEntryId++,
            mailboxId: m.id,
            uid: m.uidNext++,
            blobId,
            flags: t.flags,
            receivedAt,
          };
          entries.set(e.id, e);
          return meta(e);
        });
        const queued = queueInputs.map((q) => queue.insert(q, blobId));
        return queued.length > 0 ? { messages, size, sha256, queued } : { messages, size, sha256 };
      },
      abort: async () => {
        if (state !== 'open') return;
        state = 'done';
        openDeliveries.delete(d);
        chunks.length = 0;
      },
    };
    openDeliveries.add(d);
    return d;
  }

  return store;
}
