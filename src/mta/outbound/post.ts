/**
 * Posting a message we generate ourselves (a DSN) to one address: to the mailboxes it reaches when
 * the address is ours (aliases and forwards followed; remote targets queued), else into the
 * outbound queue. Always with the null reverse path (RFC 3461 §6.2, RFC 5321 §4.5.5), so a
 * notification is never answered by another one. The bytes get `Return-Path: <>` and a Received
 * line naming us, like any delivery.
 *
 * Failure semantics: resolves with what was committed; rejects with the store's error (the caller
 * retries later by leaving the original in the queue). An unknown local address posts nothing.
 */
import { type Logger, newId } from '../../core/index.js';
import { formatDate } from '../../mime/index.js';
import type { QueueEntryInput, Store } from '../../store/types.js';
import { resolveRecipient } from '../inbound/recipients.js';
import type { RetryPolicy } from './policy.js';

export interface PostOptions {
  store: Store;
  hostname: string;
  retry: RetryPolicy;
  logger: Logger;
  /** Called after something was queued (wakes the runner). */
  onQueued?: () => void;
}

export type PostOutcome = 'mailbox' | 'queued' | 'nobody';

export async function postNotice(
  opts: PostOptions,
  to: string,
  chunks: AsyncIterable<Uint8Array>,
  body8bit: boolean,
): Promise<PostOutcome> {
  const { store } = opts;
  const r = await resolveRecipient(store, to);
  let userIds: number[] = [];
  let remote: string[] = [];
  if (r.kind === 'local') {
    userIds = r.users.map((u) => u.id);
    remote = r.remote;
  } else if (r.kind === 'remote') {
    remote = [to];
  }
  if (userIds.length === 0 && remote.length === 0) {
    opts.logger.warn({ to }, 'notification to an unknown local address dropped');
    return 'nobody';
  }
  const id = newId();
  const queue: QueueEntryInput[] =
    remote.length === 0
      ? []
      : [
          {
            mailFrom: '',
            recipients: remote.map((address) => ({ address })),
            body8bit,
            expiresAt: new Date(Date.now() + opts.retry.maxAgeMs),
          },
        ];
  const d = await store.openDelivery({
    targets: userIds.map((userId) => ({ userId })),
    envelope: { mailFrom: '', rcptTo: [to] },
    queue,
  });
  try {
    await d.write(
      Buffer.from(
        `Return-Path: <>\r\nReceived: by ${opts.hostname} (Posthorn) id ${id}\r\n\tfor <${to.replace(/[^\x21-\x7e\u0080-\uffff]/g, '')}>; ${formatDate(new Date())}\r\n`,
      ),
    );
    for await (const c of chunks) await d.write(c);
    await d.commit();
  } catch (err) {
    await d.abort().catch(() => {});
    throw err;
  }
  opts.logger.info({ id, to, mailboxes: userIds.length, queued: remote.length }, 'notification posted');
  if (remote.length > 0) opts.onQueued?.();
  return userIds.length > 0 ? 'mailbox' : 'queued';
}
