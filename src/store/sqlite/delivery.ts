/**
 * One delivery into the SQLite store, on the main thread. Bytes are copied as they are written,
 * hashed, and cut into chunks of `chunkSize`; each full chunk goes to the writer thread (handed
 * over, not copied) as a pending blob row. The rest rides with the commit request, so a message
 * smaller than one chunk costs one request and one row. `write` waits while `maxInflight` chunks
 * of this delivery are unacknowledged, or while the store-wide `budget` of unacknowledged bytes is
 * spent: that backpressure keeps a 25 MiB message, or a thousand of them, from piling up in memory.
 *
 * Nothing is visible before the writer thread commits the `commit` request; `abort` (or a failed
 * commit, or a crash) leaves at most a pending blob, deleted by `discard` or reclaimed on the next
 * open.
 */
import { createHash, type Hash } from 'node:crypto';
import type { CommitResult, Delivery, DeliveryOptions, MessageMeta, QueueEntryInput } from '../types.js';
import { StoreError } from '../types.js';
import type { CommitTarget, CommittedEntry } from './protocol.js';
import type { WriterClient } from './writer-client.js';

/** Unacknowledged chunk bytes of all deliveries of one store. */
export interface InflightBudget {
  used: number;
  limit: number;
}

export interface DeliveryLimits {
  chunkSize: number;
  maxInflight: number;
  budget: InflightBudget;
}

type State = 'open' | 'committing' | 'done';

export class SqliteDelivery implements Delivery {
  private readonly parts: Buffer[] = [];
  private partsLength = 0;
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  private seq = 0;
  private readonly inflight: Promise<unknown>[] = [];
  private error: unknown;
  private state: State = 'open';

  constructor(
    private readonly writer: WriterClient,
    private readonly key: number,
    private readonly targets: CommitTarget[],
    private readonly opts: DeliveryOptions,
    private readonly limits: DeliveryLimits,
    private readonly onDone: (d: SqliteDelivery) => void,
    private readonly queue: QueueEntryInput[] = [],
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.check();
    if (chunk.byteLength === 0) return;
    this.hash.update(chunk);
    this.size += chunk.byteLength;
    let off = 0;
    while (off < chunk.byteLength) {
      const take = Math.min(chunk.byteLength - off, this.limits.chunkSize - this.partsLength);
      // A copy: the caller may reuse its buffer as soon as we return.
      this.parts.push(Buffer.from(chunk.subarray(off, off + take)));
      this.partsLength += take;
      off += take;
      if (this.partsLength === this.limits.chunkSize) this.sendChunk();
    }
    const budget = this.limits.budget;
    while (
      this.inflight.length >= this.limits.maxInflight ||
      (budget.used > budget.limit && this.inflight.length > 0)
    ) {
      await this.inflight.shift();
      this.check();
    }
  }

  /** Set while the commit runs: the store's close() waits for it. */
  committing: Promise<CommitResult> | undefined;

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
    try {
      // Earlier chunks must be acknowledged first: a failed one fails the delivery.
      try {
        await Promise.all(this.inflight);
        this.check('committing');
      } catch (err) {
        if (this.seq > 0) await this.writer.call({ op: 'discard', key: this.key }).catch(() => {});
        throw err;
      }
      const tail = this.parts.length > 0 ? this.takeParts() : null;
      const sha256 = this.hash.digest('hex');
      const receivedAt = (this.opts.receivedAt ?? new Date()).getTime();
      const reply = await this.writer.call<
        CommittedEntry[] | { entries: CommittedEntry[]; queued: string[] }
      >(
        {
          op: 'commit',
          key: this.key,
          seq: this.seq,
          tail,
          size: this.size,
          sha256,
          targets: this.targets,
          envelope: this.opts.envelope,
          receivedAt,
          queue: this.queue,
        },
        tail?.buffer as ArrayBuffer | undefined,
      );
      const entries = Array.isArray(reply) ? reply : reply.entries;
      const messages = entries.map(
        (e, i): MessageMeta => ({
          id: String(e.id),
          mailboxId: e.mailboxId,
          uid: e.uid,
          size: this.size,
          flags: this.targets[i]!.flags === '' ? [] : this.targets[i]!.flags.split(' '),
          receivedAt: new Date(receivedAt),
          sha256,
        }),
      );
      if (Array.isArray(reply)) return { messages, size: this.size, sha256 };
      return { messages, size: this.size, sha256, queued: reply.queued };
    } finally {
      this.finish();
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.finish();
    await Promise.allSettled(this.inflight);
    if (this.seq > 0) await this.writer.call({ op: 'discard', key: this.key }).catch(() => {});
  }

  /** Ends an open delivery because the store closes: its later calls fail with `err`. */
  async fail(err: StoreError): Promise<void> {
    if (this.state !== 'open') return;
    this.error ??= err;
    await this.abort();
  }

  private check(expected: State = 'open') {
    if (this.error) throw this.error;
    if (this.state !== expected) throw new StoreError('invalid', 'delivery already committed or aborted');
  }

  private finish() {
    this.state = 'done';
    this.parts.length = 0;
    this.partsLength = 0;
    this.onDone(this);
  }

  /** Joins the buffered parts into one exactly sized, transferable array. */
  private takeParts(): Uint8Array {
    const out = new Uint8Array(this.partsLength);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    this.parts.length = 0;
    this.partsLength = 0;
    return out;
  }

  private sendChunk() {
    const data = this.takeParts();
    const budget = this.limits.budget;
    const size = data.byteLength;
    budget.used += size;
    const p = this.writer.call(
      { op: 'chunk', key: this.key, seq: this.seq++, data },
      data.buffer as ArrayBuffer,
    );
    p.then(
      () => {
        budget.used -= size;
      },
      (err) => {
        budget.used -= size;
        this.error ??= err;
      },
    );
    this.inflight.push(p);
  }
}
