/**
 * One delivery into the PostgreSQL store. Bytes are copied as they are written, hashed and cut
 * into chunks of `chunkSize`. A message smaller than one chunk travels whole with its commit
 * request (one row, written by the group committer). A larger one gets a pending blob row
 * (state 0, owned by this node, leased) at its first full chunk, and each full chunk is inserted
 * as it fills, in order, through the bulk pool whose sessions use `synchronous_commit = off`: a
 * chunk is only worth keeping once its commit, which is synchronous and whose WAL flush covers
 * everything written before it, has succeeded. `write` waits while `maxInflight` chunks are
 * unacknowledged, so a 25 MiB message is never whole in memory.
 *
 * Nothing is visible before the committer's transaction commits. `abort`, or a failed commit,
 * deletes the pending blob; if that fails too (the database is down), or the node dies, the blob's
 * lease runs out and any node reclaims it (postgres-store.ts).
 */
import type { Pool } from 'pg';
import { ChunkCutter } from '../chunk-cutter.js';
import type { CommitResult, Delivery, DeliveryOptions, MessageMeta, QueueEntryInput } from '../types.js';
import { StoreError } from '../types.js';
import type { CommitTarget, Committer } from './committer.js';
import { mapError } from './errors.js';

export interface DeliveryContext {
  bulk: Pool;
  committer: Committer;
  owner: string;
  chunkSize: number;
  maxInflight: number;
  /** Pending blob ids of this store, renewed by its lease heartbeat. */
  leased: Set<number>;
}

type State = 'open' | 'committing' | 'done';

export class PostgresDelivery implements Delivery {
  private readonly bytes: ChunkCutter;
  private seq = 0;
  private blobId: Promise<number> | undefined;
  private readonly inflight: Promise<unknown>[] = [];
  private error: unknown;
  private state: State = 'open';
  /** Set while the commit runs: the store's close() waits for it. */
  committing: Promise<CommitResult> | undefined;

  constructor(
    private readonly ctx: DeliveryContext,
    private readonly targets: CommitTarget[],
    private readonly opts: DeliveryOptions,
    private readonly onDone: (d: PostgresDelivery) => void,
    private readonly queue: QueueEntryInput[],
  ) {
    this.bytes = new ChunkCutter(ctx.chunkSize);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.check();
    if (chunk.byteLength === 0) return;
    this.bytes.push(chunk, (data) => this.sendChunk(data));
    while (this.inflight.length >= this.ctx.maxInflight) {
      // A failed chunk is recorded in this.error; check() throws it, mapped.
      await this.inflight.shift()!.catch(() => {});
      this.check();
    }
  }

  commit(): Promise<CommitResult> {
    try {
      this.check();
    } catch (err) {
      return Promise.reject(err);
    }
    this.state = 'committing';
    this.committing = this.runCommit();
    return this.committing;
  }

  private async runCommit(): Promise<CommitResult> {
    let committed = false;
    try {
      await Promise.all(this.inflight);
      this.check('committing');
      const pendingBlobId = this.blobId ? await this.blobId : null;
      const rest = this.bytes.rest();
      const tail = rest && Buffer.from(rest.buffer, rest.byteOffset, rest.byteLength);
      const sha256 = this.bytes.digest();
      const receivedAt = (this.opts.receivedAt ?? new Date()).getTime();
      const { entries, queued } = await this.ctx.committer.submit({
        pendingBlobId,
        tail,
        tailSeq: this.seq,
        size: this.bytes.size,
        sha256,
        envelope: this.opts.envelope,
        receivedAt,
        targets: this.targets,
        queue: this.queue,
      });
      committed = true;
      const messages = entries.map(
        (e, i): MessageMeta => ({
          id: String(e.id),
          mailboxId: e.mailboxId,
          uid: e.uid,
          size: this.bytes.size,
          flags: this.targets[i]!.flags === '' ? [] : this.targets[i]!.flags.split(' '),
          receivedAt: new Date(receivedAt),
          sha256,
        }),
      );
      return { messages, size: this.bytes.size, sha256, ...(this.queue.length > 0 ? { queued } : {}) };
    } catch (err) {
      throw mapError(err);
    } finally {
      this.state = 'done';
      this.bytes.clear();
      if (!committed) await this.discard();
      else this.forgetLease();
      this.onDone(this);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'done';
    this.bytes.clear();
    await Promise.allSettled(this.inflight);
    await this.discard();
    this.onDone(this);
  }

  /** Ends an open delivery because the store closes: its later calls fail with `err`. */
  async fail(err: StoreError): Promise<void> {
    if (this.state !== 'open') return;
    this.error ??= err;
    await this.abort();
  }

  private check(expected: State = 'open') {
    if (this.error) throw mapError(this.error);
    if (this.state !== expected) throw new StoreError('invalid', 'delivery already committed or aborted');
  }

  /** Deletes the pending blob; if the database is unreachable its lease will reclaim it. */
  private async discard() {
    if (!this.blobId) return;
    const id = await this.blobId.catch(() => undefined);
    this.forgetLease();
    if (id === undefined) return;
    await this.ctx.bulk
      .query({ name: 'pd-discard', text: 'DELETE FROM blobs WHERE id = $1 AND state = 0', values: [id] })
      .catch(() => {});
  }

  private forgetLease() {
    this.blobId?.then((id) => this.ctx.leased.delete(id)).catch(() => {});
  }

  private sendChunk(bytes: Uint8Array) {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const seq = this.seq++;
    const prev = this.inflight.at(-1) ?? Promise.resolve();
    this.blobId ??= this.ctx.bulk
      .query<{ id: number }>({
        name: 'pd-pending',
        text: `INSERT INTO blobs (state, owner, lease_at, created_at) VALUES (0, $1, now(), $2) RETURNING id`,
        values: [this.ctx.owner, Date.now()],
      })
      .then((r) => {
        const id = r.rows[0]!.id;
        this.ctx.leased.add(id);
        return id;
      });
    const blobId = this.blobId;
    // In order: the previous chunk first (its failure fails this one too).
    const p = Promise.all([blobId, prev]).then(([id]) =>
      this.ctx.bulk.query({
        name: 'pd-chunk',
        text: 'INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)',
        values: [id, seq, data],
      }),
    );
    p.catch((err) => {
      this.error ??= err;
    });
    this.inflight.push(p);
  }
}
