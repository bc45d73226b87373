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

import { ChunkCutter } from '../chunk-cutter.js';
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
  private readonly bytes: ChunkCutter;
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
  ) {
    this.bytes = new ChunkCutter(limits.chunkSize);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.check();
    if (chunk.byteLength === 0) return;
    this.bytes.push(chunk, (data) => this.sendChunk(data));
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
      const tail = this.bytes.rest();
      const sha256 = this.bytes.digest();
      const receivedAt = (this.opts.receivedAt ?? new Date()).getTime();
      const reply = await this.writer.call<
        CommittedEntry[] | { entries: CommittedEntry[]; queued: string[] }
      >(
        {
          op: 'commit',
          key: this.key,
          seq: this.seq,
          tail,
          size: this.bytes.size,
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
          size: this.bytes.size,
          flags: this.targets[i]!.flags === '' ? [] : this.targets[i]!.flags.split(' '),
          receivedAt: new Date(receivedAt),
          sha256,
        }),
      );
      if (Array.isArray(reply)) return { messages, size: this.bytes.size, sha256 };
      return { messages, size: this.bytes.size, sha256, queued: reply.queued };
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
    this.bytes.clear();
    this.onDone(this);
  }

  private sendChunk(data: Uint8Array) {
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
