/**
 * The main thread's side of the writer thread: starts it, sends requests (all those made in one
 * callback go in one postMessage) and settles each request's promise from the replies.
 * If the thread dies, every open and later request fails with StoreError('unavailable').
 */
import { Worker } from 'node:worker_threads';
import { StoreError, type StoreErrorCode } from '../types.js';
import type { ControlMessage, Reply, Request, WorkerEvent, WriteOp, WriterOptions } from './protocol.js';

interface Waiter {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

const settled = () => {};

/**
 * A settled waiter lets go of its promise: the map's replaced hash tables may keep the waiter
 * itself alive until a full collection, and through the promise it would keep the whole delivery
 * waiting on it (see core/live-set.ts).
 */
function forget(w: Waiter): void {
  w.resolve = settled;
  w.reject = settled;
}

export interface ReadyInfo {
  migrated: number;
  reclaimed: number;
  schemaVersion: number;
}

function spawnWriter(opts: WriterOptions): Worker {
  // Running from source (tsx), the worker's entry must go through tsx's loader too; built, it is
  // plain JavaScript next to this file.
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./writer-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData: opts });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: opts });
}

export class WriterClient {
  private readonly worker: Worker;
  private readonly waiters = new Map<number, Waiter>();
  private outbox: Request[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  private nextId = 1;
  private dead: StoreError | undefined;
  private onClosed: (() => void) | undefined;

  private constructor(worker: Worker) {
    this.worker = worker;
  }

  /** Starts the writer thread; resolves once the database is open and migrated. */
  static start(opts: WriterOptions): Promise<{ client: WriterClient; info: ReadyInfo }> {
    const worker = spawnWriter(opts);
    const client = new WriterClient(worker);
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (e: WorkerEvent) => {
        switch (e.type) {
          case 'ready':
            ready = true;
            resolve({ client, info: e });
            return;
          case 'init-error':
            reject(e.code ? new StoreError(e.code, e.message) : new Error(e.message));
            return;
          case 'replies':
            client.settle(e.replies);
            return;
          case 'closed':
            client.onClosed?.();
            return;
        }
      });
      worker.on('error', (err) => {
        if (!ready) reject(new StoreError('unavailable', `store writer failed to start: ${err.message}`));
        client.fail(`store writer failed: ${err.message}`);
      });
      worker.on('exit', () => {
        // After init-error this is a no-op: a promise settles once.
        if (!ready) reject(new StoreError('unavailable', 'store writer exited before opening the database'));
        client.fail('store writer stopped');
        client.onClosed?.();
      });
    });
  }

  /** Queues one write; `transfer` hands a buffer over to the thread instead of copying it. */
  call<T>(op: WriteOp, transfer?: ArrayBuffer): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const rid = this.nextId++;
    this.outbox.push({ ...op, rid } as Request);
    if (transfer) this.transfer.push(transfer);
    if (!this.scheduled) {
      this.scheduled = true;
      // Posted as soon as the current callback is done, not after the other sockets' events of
      // this loop turn: a commit waits less (the thread batches whatever piles up meanwhile).
      process.nextTick(this.flush);
    }
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(rid, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private readonly flush = () => {
    this.scheduled = false;
    if (this.outbox.length === 0 || this.dead) return;
    const requests = this.outbox;
    const transfer = this.transfer;
    this.outbox = [];
    this.transfer = [];
    try {
      this.worker.postMessage({ type: 'requests', requests } satisfies ControlMessage, transfer);
    } catch {
      // One uncloneable value (a caller's envelope holding a function, say) must fail its own
      // request, not the whole turn's: retry one by one.
      for (const r of requests) {
        try {
          this.worker.postMessage({ type: 'requests', requests: [r] } satisfies ControlMessage);
        } catch (err) {
          this.settle([
            { rid: r.rid, ok: false, code: 'invalid', message: `cannot store: ${(err as Error).message}` },
          ]);
        }
      }
    }
  };

  private settle(replies: Reply[]) {
    for (const r of replies) {
      const w = this.waiters.get(r.rid);
      if (!w) continue;
      this.waiters.delete(r.rid);
      const { resolve, reject } = w;
      forget(w);
      if (r.ok) resolve(r.value);
      else reject(r.code ? new StoreError(r.code as StoreErrorCode, r.message) : new Error(r.message));
    }
  }

  private fail(message: string) {
    if (!this.dead) this.dead = new StoreError('unavailable', message);
    for (const w of this.waiters.values()) {
      const { reject } = w;
      forget(w);
      reject(this.dead);
    }
    this.waiters.clear();
  }

  /** Lets queued requests finish, then closes the database and ends the thread. */
  async close(): Promise<void> {
    if (this.dead) return;
    this.flush();
    await new Promise<void>((resolve) => {
      this.onClosed = resolve;
      this.worker.postMessage({ type: 'close' } satisfies ControlMessage);
    });
    this.dead = new StoreError('unavailable', 'store is closed');
    await this.worker.terminate().catch(() => {});
  }
}
