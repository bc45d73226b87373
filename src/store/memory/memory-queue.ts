/**
 * The outbound queue of the in-memory store (contract in ../types.ts). Entries live in a Map and
 * refer to the store's blobs by id; a lease is a (token, until) pair on the entry. JavaScript runs
 * each call without interruption, so claim and update are atomic.
 */
import { randomBytes } from 'node:crypto';
import {
  type QueueClaim,
  type QueueEntry,
  type QueueEntryInput,
  type QueueRecipient,
  type QueueRepo,
  type StoredEnvelope,
  StoreError,
} from '../types.js';
import { applyUpdates, newRecipients, nextDue, validateQueueInputs } from './queue-rules.js';

/** What the queue needs of the store's blobs. */
export interface QueueBlobs {
  chunks(blobId: number): Buffer[];
  meta(blobId: number): { size: number; sha256: string; envelope: StoredEnvelope };
  unref(blobId: number): void;
}

interface Rec {
  id: number;
  blobId: number;
  input: QueueEntryInput;
  createdAt: Date;
  recipients: QueueRecipient[];
  leaseOwner?: string;
  leaseToken?: string;
  leaseUntil?: Date;
}

export interface MemoryQueue {
  repo: QueueRepo;
  validate(inputs: QueueEntryInput[] | undefined): QueueEntryInput[];
  /** Called inside a delivery commit; the blob reference is already counted. */
  insert(input: QueueEntryInput, blobId: number): string;
}

const copyRecipient = (r: QueueRecipient): QueueRecipient => structuredClone(r);

export function createMemoryQueue(blobs: QueueBlobs, live: () => void): MemoryQueue {
  const recs = new Map<number, Rec>();
  let nextId = 1;

  const run = async <T>(fn: () => T): Promise<T> => {
    live();
    return fn();
  };
  const find = (id: string) => {
    const n = /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : NaN;
    return recs.get(n);
  };
  const view = (r: Rec): QueueEntry => {
    const m = blobs.meta(r.blobId);
    const e: QueueEntry = {
      id: String(r.id),
      mailFrom: r.input.mailFrom,
      body8bit: !!r.input.body8bit,
      smtputf8: !!r.input.smtputf8,
      createdAt: new Date(r.createdAt),
      expiresAt: new Date(r.input.expiresAt),
      nextAttemptAt: nextDue(r.recipients) ?? new Date(r.createdAt),
      size: m.size,
      sha256: m.sha256,
      envelope: m.envelope,
      recipients: r.recipients.map(copyRecipient),
    };
    if (r.input.ret) e.ret = r.input.ret;
    if (r.input.envid !== undefined) e.envid = r.input.envid;
    if (r.leaseOwner !== undefined) e.leaseOwner = r.leaseOwner;
    if (r.leaseUntil) e.leaseUntil = new Date(r.leaseUntil);
    return e;
  };
  const held = (id: string, token: string): Rec => {
    const r = find(id);
    if (!r) throw new StoreError('not-found', `no such queue entry: ${id}`);
    if (r.leaseToken !== token || !r.leaseUntil || r.leaseUntil.getTime() < Date.now())
      throw new StoreError('conflict', `the lease on queue entry ${id} is no longer held`);
    return r;
  };
  const drop = (r: Rec) => {
    recs.delete(r.id);
    blobs.unref(r.blobId);
  };
  const endLease = (r: Rec) => {
    delete r.leaseOwner;
    delete r.leaseToken;
    delete r.leaseUntil;
  };
  const sorted = () =>
    [...recs.values()]
      .map((r) => ({ r, due: nextDue(r.recipients)?.getTime() ?? Number.POSITIVE_INFINITY }))
      .sort((a, b) => a.due - b.due || a.r.id - b.r.id);

  async function* read(id: string): AsyncIterable<Uint8Array> {
    live();
    const r = find(id);
    if (!r) throw new StoreError('not-found', `no such queue entry: ${id}`);
    for (const c of blobs.chunks(r.blobId)) yield Buffer.from(c);
  }

  const repo: QueueRepo = {
    claim: (opts) =>
      run(() => {
        const now = (opts.now ?? new Date()).getTime();
        const out: QueueClaim[] = [];
        for (const { r, due } of sorted()) {
          if (out.length >= opts.limit || due > now) break;
          if (r.leaseUntil && r.leaseUntil.getTime() >= now) continue;
          r.leaseOwner = opts.owner;
          r.leaseToken = randomBytes(12).toString('hex');
          r.leaseUntil = new Date(now + opts.leaseMs);
          out.push({ entry: view(r), token: r.leaseToken });
        }
        return out;
      }),
    update: (id, token, updates, opts) =>
      run(() => {
        const r = held(id, token);
        r.recipients = applyUpdates(r.recipients, updates, new Date());
        if (!opts?.keepLease) endLease(r);
        if (nextDue(r.recipients) === undefined) drop(r);
      }),
    renew: (id, token, leaseMs) =>
      run(() => {
        held(id, token).leaseUntil = new Date(Date.now() + leaseMs);
      }),
    release: (id, token) =>
      run(() => {
        const r = find(id);
        if (r && r.leaseToken === token) endLease(r);
      }),
    list: (opts) =>
      run(() =>
        sorted()
          .slice(0, opts?.limit ?? Number.MAX_SAFE_INTEGER)
          .map(({ r }) => view(r)),
      ),
    get: (id) =>
      run(() => {
        const r = find(id);
        return r && view(r);
      }),
    read,
    retry: (id, now) =>
      run(() => {
        const t = now ?? new Date();
        const list = id === undefined ? [...recs.values()] : [find(id)].filter((r): r is Rec => !!r);
        if (id !== undefined && list.length === 0)
          throw new StoreError('not-found', `no such queue entry: ${id}`);
        let n = 0;
        for (const r of list) {
          let changed = false;
          for (const p of r.recipients) {
            if (p.state === 'pending' && p.nextAttemptAt.getTime() > t.getTime()) {
              p.nextAttemptAt = new Date(t);
              changed = true;
            }
          }
          if (changed) n++;
        }
        return n;
      }),
    remove: (id) =>
      run(() => {
        const r = find(id);
        if (!r) throw new StoreError('not-found', `no such queue entry: ${id}`);
        drop(r);
      }),
    count: () =>
      run(() => {
        let pendingRecipients = 0;
        for (const r of recs.values())
          for (const p of r.recipients) if (p.state === 'pending') pendingRecipients++;
        return { entries: recs.size, pendingRecipients };
      }),
  };

  return {
    repo,
    validate: validateQueueInputs,
    insert: (input, blobId) => {
      const now = new Date();
      const r: Rec = { id: nextId++, blobId, input, createdAt: now, recipients: newRecipients(input, now) };
      recs.set(r.id, r);
      return String(r.id);
    },
  };
}
