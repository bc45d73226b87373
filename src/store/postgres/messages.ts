import { normalizeFlags, normalizeMailboxName } from '../names.js';
import {
  MAILBOX_COLS,
  type MailboxRow,
  MESSAGE_COLS,
  type MessageRow,
  parseMessageId,
  parseMessageIds,
  toMailbox,
  toMessage,
  withinBudget,
} from '../rows.js';
import type { Store } from '../types.js';
import { StoreError } from '../types.js';
import { createMailboxes } from './committer.js';
import { notFound, type RepoContext } from './context.js';

export function createMessageRepos(x: RepoContext): Pick<Store, 'mailboxes' | 'messages'> {
  const { q, tx, live, freeUnused, lockBlobs, readBlob } = x;
  const messageId = (id: string) => {
    const n = parseMessageId(id);
    if (n === undefined) throw new StoreError('not-found', `no such message: ${id}`);
    return n;
  };

  async function* readMessage(id: string): AsyncIterable<Uint8Array> {
    const n = parseMessageId(id);
    if (n === undefined) throw new StoreError('not-found', `no such message: ${id}`);
    // The first chunk comes with the lookup: a typical message is one round trip.
    const first = await q<{ blob_id: number; size: number; data: Buffer | null }>(
      `SELECT b.id AS blob_id, b.size, c.data FROM messages m JOIN blobs b ON b.id = m.blob_id
       LEFT JOIN blob_chunks c ON c.blob_id = b.id AND c.seq = 0 WHERE m.id = $1`,
      [n],
      'ps-read-first',
    );
    const m = first[0];
    if (!m) throw new StoreError('not-found', `no such message: ${id}`);
    yield* readBlob(m.blob_id, m.size, `message ${id}`, m.data);
  }

  return {
    mailboxes: {
      ensure: async (userId, name) => {
        const n = normalizeMailboxName(name);
        const get = async () =>
          (
            await q<MailboxRow>(
              `SELECT ${MAILBOX_COLS} FROM mailboxes WHERE user_id = $1 AND name = $2`,
              [userId, n],
              'ps-mbox',
            )
          )[0];
        const existing = await get();
        if (existing) return toMailbox(existing);
        await tx(async (c) => {
          if ((await c.query('SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE', [userId])).rowCount === 0)
            throw notFound('user id', String(userId));
          await createMailboxes(c, [{ userId, mailbox: n }]);
        });
        return toMailbox((await get())!);
      },
      get: async (userId, name) => {
        const n = normalizeMailboxName(name);
        const r = await q<MailboxRow>(
          `SELECT ${MAILBOX_COLS} FROM mailboxes WHERE user_id = $1 AND name = $2`,
          [userId, n],
          'ps-mbox',
        );
        return r[0] && toMailbox(r[0]);
      },
      list: async (userId) =>
        (
          await q<MailboxRow>(`SELECT ${MAILBOX_COLS} FROM mailboxes WHERE user_id = $1 ORDER BY id`, [
            userId,
          ])
        ).map(toMailbox),
    },

    messages: {
      list: async (mailboxId) =>
        (
          await q<MessageRow>(
            `SELECT ${MESSAGE_COLS} FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 ORDER BY m.uid`,
            [mailboxId],
            'ps-list',
          )
        ).map(toMessage),
      get: async (id) => {
        live();
        const n = parseMessageId(id);
        if (n === undefined) return undefined;
        const r = await q<MessageRow>(
          `SELECT ${MESSAGE_COLS} FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.id = $1`,
          [n],
          'ps-message',
        );
        return r[0] && toMessage(r[0]);
      },
      read: (id) => {
        live();
        return readMessage(id);
      },
      readSmall: async (ids, budget) => {
        live();
        const nums = parseMessageIds(ids);
        if (nums.length === 0) return new Map();
        // Messages stored in one chunk row, in the order asked.
        const rows = await q<{ id: string; data: Buffer }>(
          `SELECT m.id::text AS id, c.data FROM unnest($1::bigint[]) WITH ORDINALITY AS a(id, ord)
           JOIN messages m ON m.id = a.id JOIN blobs b ON b.id = m.blob_id
           JOIN blob_chunks c ON c.blob_id = b.id AND c.seq = 0
           WHERE b.size = octet_length(c.data) ORDER BY a.ord`,
          [nums],
          'ps-read-small',
        );
        return withinBudget(
          rows.map((r) => [r.id, r.data] as const),
          budget,
        );
      },
      setFlags: async (id, flags) => {
        const f = normalizeFlags(flags).join(' ');
        const r = await q('UPDATE messages SET flags = $1 WHERE id = $2 RETURNING id', [f, messageId(id)]);
        if (r.length === 0) throw notFound('message', id);
      },
      expunge: async (mailboxId, ids) => {
        live();
        if (ids.length === 0) return;
        const want = [...new Set(ids.map(messageId))];
        await tx(async (c) => {
          const found = await c.query<{ id: number; blob_id: number }>(
            'SELECT id, blob_id FROM messages WHERE id = ANY($1::bigint[]) AND mailbox_id = $2',
            [want, mailboxId],
          );
          if (found.rowCount !== want.length) {
            const have = new Set(found.rows.map((r) => r.id));
            const missing = want.find((x) => !have.has(x));
            throw new StoreError('not-found', `no message ${missing} in mailbox ${mailboxId}`);
          }
          const blobIds = [...new Set(found.rows.map((r) => r.blob_id))];
          await lockBlobs(c, blobIds);
          const del = await c.query('DELETE FROM messages WHERE id = ANY($1::bigint[]) AND mailbox_id = $2', [
            want,
            mailboxId,
          ]);
          // Another node expunged some of them meanwhile: all or nothing.
          if (del.rowCount !== want.length) throw new StoreError('not-found', 'messages expunged meanwhile');
          await freeUnused(c, blobIds);
        });
      },
      move: async (ids, toMailboxId) => {
        live();
        if (ids.length === 0) return;
        const want = [...new Set(ids.map(messageId))];
        await tx(async (c) => {
          const to = await c.query<{ id: number; user_id: number }>(
            'SELECT id, user_id FROM mailboxes WHERE id = $1',
            [toMailboxId],
          );
          if (to.rowCount === 0) throw notFound('mailbox', String(toMailboxId));
          const rows = await c.query<{ id: number; mailbox_id: number; uid: number; user_id: number }>(
            `SELECT m.id, m.mailbox_id, m.uid, b.user_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
             WHERE m.id = ANY($1::bigint[]) ORDER BY m.mailbox_id, m.uid`,
            [want],
          );
          if (rows.rowCount !== want.length) {
            const have = new Set(rows.rows.map((r) => r.id));
            throw notFound('message', String(want.find((x) => !have.has(x))));
          }
          if (rows.rows.some((r) => r.user_id !== to.rows[0]!.user_id))
            throw new StoreError('invalid', 'messages move only between mailboxes of one user');
          const moving = rows.rows.filter((r) => r.mailbox_id !== toMailboxId);
          if (moving.length === 0) return;
          const bumped = await c.query<{ base: number }>(
            'UPDATE mailboxes SET uid_next = uid_next + $2 WHERE id = $1 RETURNING uid_next - $2 AS base',
            [toMailboxId, moving.length],
          );
          const base = bumped.rows[0]!.base;
          await c.query(
            `UPDATE messages m SET mailbox_id = $1, uid = t.uid
             FROM unnest($2::bigint[], $3::bigint[]) AS t(id, uid) WHERE m.id = t.id`,
            [toMailboxId, moving.map((r) => r.id), moving.map((_, i) => base + i)],
          );
        });
      },
    },
  };
}
