/**
 * Entry point of the SQLite writer thread: group commit. Requests that arrive while a batch is
 * being written wait in `queue`; when the batch's transaction (and its fsync) is done, everything
 * that arrived meanwhile becomes the next batch, written in one transaction with one fsync. Each
 * request's reply is posted only after the transaction holding it has committed, so a resolved
 * `commit()` is durable. Under load batches grow by themselves; idle, a lone delivery waits for one
 * event-loop turn and one fsync only.
 *
 * Failure semantics: an operation that throws (conflict, unknown user) rolls back its own
 * savepoint and fails alone; a failing batch commit (disk full, I/O error) fails every request of
 * the batch with StoreError('unavailable') and the deliveries it touched must start over.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { StoreError } from '../types.js';
import type { ControlMessage, Reply, Request, WorkerEvent, WriterOptions } from './protocol.js';
import { Writer } from './writer.js';

const opts = workerData as WriterOptions;
const port = parentPort!;
const post = (e: WorkerEvent) => port.postMessage(e);

function errorReply(rid: number, err: unknown): Reply {
  if (err instanceof StoreError) return { rid, ok: false, code: err.code, message: err.message };
  const e = err as { code?: unknown; message?: unknown };
  const sqlite = typeof e?.code === 'string' ? e.code : '';
  const message = String(e?.message ?? err);
  if (sqlite.startsWith('SQLITE_CONSTRAINT')) return { rid, ok: false, code: 'conflict', message };
  if (/^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|CORRUPT|NOTADB)/.test(sqlite)) {
    return { rid, ok: false, code: 'unavailable', message };
  }
  return { rid, ok: false, code: null, message };
}

const payload = (r: Request) =>
  r.op === 'chunk' ? r.data.byteLength : r.op === 'commit' ? (r.tail?.byteLength ?? 0) : 0;

function start(writer: Writer) {
  let queue: Request[] = [];
  let scheduled = false;
  let closing = false;
  const one = writer.db.transaction((r: Request) => writer.apply(r));

  const runBatch = (batch: Request[]) => {
    let replies: Reply[] = [];
    const touched = new Set<number>();
    const tx = writer.db.transaction(() => {
      writer.deleteLost();
      const failedCommits: number[] = [];
      for (const r of batch) {
        if (r.op === 'chunk' || r.op === 'commit' || r.op === 'discard') touched.add(r.key);
        try {
          replies.push({ rid: r.rid, ok: true, value: one(r) });
        } catch (err) {
          replies.push(errorReply(r.rid, err));
          if (r.op === 'commit') failedCommits.push(r.key);
        }
      }
      // A delivery whose commit failed is over: its pending bytes go now, not at the next open.
      for (const k of failedCommits) writer.discard(k);
    });
    try {
      tx.immediate();
    } catch (err) {
      writer.forgetAfterRollback(touched);
      const reason = errorReply(0, err);
      const message = `store write failed: ${reason.ok ? '' : reason.message}`;
      replies = batch.map((r) => ({ rid: r.rid, ok: false, code: 'unavailable', message }));
    }
    post({ type: 'replies', replies });
  };

  const flush = () => {
    scheduled = false;
    let bytes = 0;
    let n = 0;
    while (n < queue.length && bytes < opts.maxBatchBytes) bytes += payload(queue[n++]!);
    const batch = n === queue.length ? queue : queue.slice(0, n);
    queue = n === queue.length ? [] : queue.slice(n);
    if (batch.length > 0) runBatch(batch);
    if (queue.length > 0) schedule();
    else if (closing) {
      writer.close();
      post({ type: 'closed' });
      port.close();
    }
  };

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  port.on('message', (m: ControlMessage) => {
    if (m.type === 'requests') {
      for (const r of m.requests) queue.push(r);
    } else {
      closing = true;
    }
    schedule();
  });
}

try {
  const writer = new Writer(opts);
  const reclaimed = writer.reclaimOrphans();
  post({ type: 'ready', migrated: writer.migrated, reclaimed, schemaVersion: writer.schemaVersion });
  start(writer);
} catch (err) {
  const r = errorReply(0, err);
  post({ type: 'init-error', code: r.ok ? null : r.code, message: r.ok ? '' : r.message });
}
