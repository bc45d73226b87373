/**
 * The server side of group commit (schema step 3): one call of `posthorn_commit_batch` commits a
 * whole batch of deliveries in one statement — one network round trip and one WAL flush however
 * many deliveries the batch holds (a batch of separate statements cost ~10 round trips, and on a
 * busy machine each round trip is a scheduling delay). Arrays carry the batch: per delivery
 * (`d_*`), per mailbox target (`t_*`, `t_del` = 1-based delivery index), per queue entry (`q_*`)
 * and per queue recipient (`r_*`, `r_q` = 1-based entry index).
 *
 * Order of locks, the same on every node so that concurrent batches never deadlock:
 *   1. users of every target `FOR KEY SHARE` (a user removed meanwhile fails its deliveries alone);
 *   2. pending blobs `FOR UPDATE` (still state 0 and ours, else the lease ran out: 'unavailable');
 *   3. `counters` (only when a mailbox must be created), then the new mailboxes;
 *   4. (after the blobs and chunks are written) every target mailbox `FOR UPDATE` in id order;
 *      then UIDs are taken one by one from `uid_next` — inside the commit, strictly increasing,
 *      never reused.
 * Returns one row per failed delivery ('error', its index, 'code:message'), per mailbox entry
 * ('message', delivery, target index, id, mailbox, uid) and per queue entry ('queue', delivery,
 * entry index, id). A delivery that fails changes nothing; the others commit.
 */
export const COMMIT_BATCH_FUNCTION = `
CREATE FUNCTION posthorn_commit_batch(
  p_owner text, p_now_s bigint,
  d_pending bigint[], d_size bigint[], d_sha text[], d_env jsonb[], d_received bigint[],
  d_tail bytea[], d_tail_seq int[],
  t_del int[], t_user bigint[], t_box text[], t_flags text[],
  q_del int[], q_from text[], q_ret text[], q_envid text[], q_b8 boolean[], q_u8 boolean[],
  q_expires bigint[], q_next bigint[],
  r_q int[], r_idx int[], r_addr text[], r_orcpt text[], r_notify text[]
) RETURNS TABLE (o_kind text, o_del int, o_item int, o_id bigint, o_box bigint, o_uid bigint, o_err text)
LANGUAGE plpgsql AS $fn$
DECLARE
  n int := coalesce(array_length(d_size, 1), 0);
  bad text[] := array_fill(NULL::text, ARRAY[n]);
  blob bigint[] := array_fill(NULL::bigint, ARRAY[n]);
  rec record;
  i int;
  nboxes int;
  base bigint;
  v_box bigint;
  v_uid bigint;
  v_id bigint;
BEGIN
  PERFORM 1 FROM users u WHERE u.id = ANY (t_user) ORDER BY u.id FOR KEY SHARE;
  FOR rec IN
    SELECT DISTINCT ON (t.d) t.d, t.u FROM unnest(t_del, t_user) AS t(d, u)
    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.u) ORDER BY t.d, t.u
  LOOP
    bad[rec.d] := 'not-found:no such user id: ' || rec.u;
  END LOOP;

  PERFORM 1 FROM blobs b WHERE b.id = ANY (d_pending) ORDER BY b.id FOR UPDATE;
  FOR i IN 1..n LOOP
    IF d_pending[i] IS NOT NULL AND bad[i] IS NULL AND NOT EXISTS
       (SELECT 1 FROM blobs b WHERE b.id = d_pending[i] AND b.state = 0 AND b.owner = p_owner) THEN
      bad[i] := 'unavailable:the delivery lost its bytes (lease expired)';
    END IF;
  END LOOP;

  SELECT count(*) INTO nboxes FROM (
    SELECT DISTINCT t.u, t.b FROM unnest(t_del, t_user, t_box) AS t(d, u, b)
    WHERE bad[t.d] IS NULL AND NOT EXISTS (SELECT 1 FROM mailboxes m WHERE m.user_id = t.u AND m.name = t.b)) x;
  IF nboxes > 0 THEN
    UPDATE counters c SET value = greatest(c.value + 1, p_now_s) + nboxes - 1
      WHERE c.name = 'uid_validity' RETURNING c.value - nboxes + 1 INTO base;
    INSERT INTO mailboxes (user_id, name, uid_validity, uid_next)
      SELECT x.u, x.b, base + row_number() OVER () - 1, 1 FROM (
        SELECT DISTINCT t.u, t.b FROM unnest(t_del, t_user, t_box) AS t(d, u, b)
        WHERE bad[t.d] IS NULL AND NOT EXISTS (SELECT 1 FROM mailboxes m WHERE m.user_id = t.u AND m.name = t.b)) x
      ON CONFLICT DO NOTHING;
  END IF;

  FOR i IN 1..n LOOP
    IF bad[i] IS NOT NULL THEN
      o_kind := 'error'; o_del := i; o_item := NULL; o_id := NULL; o_box := NULL; o_uid := NULL; o_err := bad[i];
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF d_pending[i] IS NULL THEN
      INSERT INTO blobs (state, size, sha256, envelope, created_at)
        VALUES (1, d_size[i], d_sha[i], d_env[i], d_received[i]) RETURNING blobs.id INTO v_id;
      blob[i] := v_id;
    ELSE
      UPDATE blobs b SET state = 1, owner = NULL, lease_at = NULL, size = d_size[i], sha256 = d_sha[i],
        envelope = d_env[i] WHERE b.id = d_pending[i];
      blob[i] := d_pending[i];
    END IF;
    IF d_tail[i] IS NOT NULL THEN
      INSERT INTO blob_chunks (blob_id, seq, data) VALUES (blob[i], d_tail_seq[i], d_tail[i]);
    END IF;
  END LOOP;

  -- Mailbox rows are locked as late as possible: they are held until the commit is durable, and
  -- every delivery to the same mailbox, on any node, waits for them.
  PERFORM 1 FROM mailboxes m WHERE m.id IN (
    SELECT m2.id FROM mailboxes m2 JOIN unnest(t_del, t_user, t_box) AS t(d, u, b)
      ON m2.user_id = t.u AND m2.name = t.b WHERE bad[t.d] IS NULL)
    ORDER BY m.id FOR UPDATE;

  FOR i IN 1..coalesce(array_length(t_del, 1), 0) LOOP
    CONTINUE WHEN bad[t_del[i]] IS NOT NULL;
    UPDATE mailboxes m SET uid_next = m.uid_next + 1 WHERE m.user_id = t_user[i] AND m.name = t_box[i]
      RETURNING m.id, m.uid_next - 1 INTO v_box, v_uid;
    INSERT INTO messages (mailbox_id, uid, blob_id, flags, received_at)
      VALUES (v_box, v_uid, blob[t_del[i]], t_flags[i], d_received[t_del[i]]) RETURNING messages.id INTO v_id;
    o_kind := 'message'; o_del := t_del[i]; o_item := i; o_id := v_id; o_box := v_box; o_uid := v_uid; o_err := NULL;
    RETURN NEXT;
  END LOOP;

  FOR i IN 1..coalesce(array_length(q_del, 1), 0) LOOP
    CONTINUE WHEN bad[q_del[i]] IS NOT NULL;
    INSERT INTO queue (blob_id, mail_from, ret, envid, body8bit, smtputf8, created_at, expires_at, next_attempt_at)
      VALUES (blob[q_del[i]], q_from[i], q_ret[i], q_envid[i], q_b8[i], q_u8[i], d_received[q_del[i]],
              q_expires[i], q_next[i]) RETURNING queue.id INTO v_id;
    INSERT INTO queue_recipients (queue_id, idx, address, orcpt, notify, state, attempts, next_attempt_at)
      SELECT v_id, r.x, r.a, r.o, r.nt, 'pending', 0, q_next[i]
      FROM unnest(r_q, r_idx, r_addr, r_orcpt, r_notify) AS r(q, x, a, o, nt) WHERE r.q = i;
    o_kind := 'queue'; o_del := q_del[i]; o_item := i; o_id := v_id; o_box := NULL; o_uid := NULL; o_err := NULL;
    RETURN NEXT;
  END LOOP;
END
$fn$;
`;
