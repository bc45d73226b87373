/**
 * The messages between the SQLite store (main thread) and its writer thread. Requests travel in
 * arrays (one postMessage per event-loop turn), replies likewise (one per written batch). Every
 * value here is structured-cloneable; names and addresses arrive already normalized (../names.ts).
 */
import type {
  QueueEntryInput,
  QueueOutcome,
  QueueRecipientUpdate,
  SentLink,
  StoredEnvelope,
  StoreErrorCode,
  VacationSettings,
} from '../types.js';

export interface WriterOptions {
  path: string;
  synchronous: 'full' | 'normal';
  /** Upper bound of one written batch's chunk bytes, so one transaction stays short. */
  maxBatchBytes: number;
  busyTimeoutMs: number;
  /** Random per process: tells this process's pending blobs from those of a dead one with the same pid. */
  ownerToken: number;
}

export interface CommitTarget {
  userId: number;
  mailbox: string;
  flags: string;
}

export interface CommittedEntry {
  id: number;
  mailboxId: number;
  uid: number;
}

export type WriteOp =
  | { op: 'domainAdd'; name: string; now: number }
  | { op: 'domainRemove'; name: string }
  | {
      op: 'userAdd';
      address: string;
      key: string;
      local: string;
      domain: string;
      passwordHash: string;
      isAdmin: boolean;
      now: number;
    }
  | { op: 'userSetPassword'; key: string; passwordHash: string }
  | { op: 'userRemove'; key: string }
  | { op: 'userSetForward'; key: string; forward: string | null }
  | { op: 'aliasAdd'; address: string; key: string; domain: string; targets: string[]; now: number }
  | { op: 'aliasRemove'; key: string }
  | { op: 'mailboxEnsure'; userId: number; name: string }
  | { op: 'setFlags'; id: number; flags: string }
  | { op: 'expunge'; mailboxId: number; ids: number[] }
  | { op: 'move'; ids: number[]; toMailboxId: number }
  /** A chunk of a delivery still being written; `key` names the delivery in this process. */
  | { op: 'chunk'; key: number; seq: number; data: Uint8Array }
  /** Makes the delivery visible: the last chunk (if any), then one entry per target. */
  | {
      op: 'commit';
      key: number;
      seq: number;
      tail: Uint8Array | null;
      size: number;
      sha256: string;
      targets: CommitTarget[];
      envelope: StoredEnvelope;
      receivedAt: number;
      queue: QueueEntryInput[];
    }
  | { op: 'queueClaim'; owner: string; limit: number; leaseMs: number; now: number }
  | { op: 'queueUpdate'; id: string; token: string; updates: QueueRecipientUpdate[]; keepLease: boolean }
  | { op: 'queueRenew'; id: string; token: string; leaseMs: number }
  | { op: 'queueRelease'; id: string; token: string }
  | { op: 'queueRetry'; id?: string; now: number }
  | { op: 'queueRemove'; id: string }
  | { op: 'discard'; key: number }
  | { op: 'vacationSet'; userId: number; settings: VacationSettings; now: number }
  | { op: 'vacationClaim'; userId: number; sender: string; now: number; since: number }
  | { op: 'sentLink'; messageId: number; link: SentLink }
  | { op: 'sentRecord'; outcomes: QueueOutcome[]; now: number };

/** `rid` numbers the request (operations have their own `id` fields). */
export type Request = WriteOp & { rid: number };

export type Reply =
  | { rid: number; ok: true; value: unknown }
  | { rid: number; ok: false; code: StoreErrorCode | null; message: string };

export type WorkerEvent =
  | { type: 'ready'; migrated: number; reclaimed: number; schemaVersion: number }
  | { type: 'init-error'; code: StoreErrorCode | null; message: string }
  | { type: 'replies'; replies: Reply[] }
  | { type: 'closed' };

export type ControlMessage = { type: 'requests'; requests: Request[] } | { type: 'close' };
