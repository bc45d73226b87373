/**
 * One delivery attempt for the recipients of one destination: connect to each hop's addresses in
 * turn (RFC 5321 §5.1), one transaction carrying all the recipients (RFC 5321 §4.5.3.1.8 lets a
 * server refuse past 100; refused ones are tried again later), and per-recipient outcomes.
 *
 * Outcome rules (RFC 5321 §4.2.1, §4.5.4.1):
 * - connection failure, greeting/EHLO/MAIL 4xx, a 4xx to DATA or its end → try the next address
 *   or host; after the last one the recipients stay pending (temporary, 4.4.1 / the reply's code);
 * - 5xx to MAIL or to the end of data → every recipient of the transaction fails; 5xx to one RCPT
 *   → that recipient fails; 4xx to one RCPT → that recipient is tried at the next host;
 * - the message needs SMTPUTF8 and the server lacks it → permanent 5.6.7 (RFC 6531 §3.2); the
 *   server lacks 8BITMIME → the message is converted to 7bit (downgrade.ts) or, when that cannot
 *   be done faithfully, fails with 5.6.3; too large for the server's SIZE → next host, else 5.3.4.
 * Opportunistic STARTTLS is the SmtpClient's default (RFC 7435); routes may require it.
 */
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import type { Logger } from '../../core/index.js';
import {
  type Envelope,
  type MessageSource,
  type RecipientSpec,
  replyText,
  SmtpClient,
  SmtpClientError,
  type SmtpClientTimeouts,
} from '../../smtp/client/index.js';
import type { SmtpReply } from '../../smtp/server/backend.js';
import type { QueueAttemptResult, QueueEntry, QueueRecipient } from '../../store/types.js';
import type { ConnectionCache } from './connection-cache.js';
import { DowngradeError, downgradeTo7bit, has8bit } from './downgrade.js';
import { withoutReturnPath } from './dsn.js';
import type { Hop } from './routing.js';

export interface DeliverContext {
  /** Our EHLO name. */
  hostname: string;
  logger: Logger;
  timeouts?: Partial<SmtpClientTimeouts>;
  /** Returns the DKIM-Signature field (with CRLF) to prepend, or '' (unsigned). */
  sign?: (entry: QueueEntry, body: () => MessageSource) => Promise<string>;
  /** CA certificates trusted for routes that verify TLS (tests). */
  ca?: string | Buffer;
  /** Reuse connections between transactions (connection-cache.ts). */
  cache?: ConnectionCache;
}

export interface RecipientOutcome {
  index: number;
  state: 'delivered' | 'failed' | 'pending';
  result: QueueAttemptResult;
}

/** The stored bytes of the entry (fresh stream per call). */
export type BytesSource = () => AsyncIterable<Uint8Array>;

async function collect(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of src) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const smtpResult = (reply: SmtpReply, remoteMta: string, fallback: string): QueueAttemptResult => ({
  status: reply.enhanced ?? fallback,
  diagnostic: replyText(reply),
  diagnosticType: 'smtp',
  remoteMta,
});

function errorResult(err: unknown, remoteMta: string): { temporary: boolean; result: QueueAttemptResult } {
  if (err instanceof SmtpClientError) {
    if (err.reply) {
      return {
        temporary: err.temporary,
        result: smtpResult(err.reply, remoteMta, err.temporary ? '4.0.0' : '5.0.0'),
      };
    }
    const status =
      err.code === 'smtputf8'
        ? '5.6.7'
        : err.code === 'size'
          ? '5.3.4'
          : err.code === 'tls'
            ? '4.7.5'
            : err.code === 'timeout'
              ? '4.4.2'
              : err.temporary
                ? '4.4.1'
                : '5.0.0';
    return { temporary: err.temporary, result: { status, diagnostic: err.message, remoteMta } };
  }
  return {
    temporary: true,
    result: { status: '4.4.1', diagnostic: (err as Error).message ?? String(err), remoteMta },
  };
}

/**
 * Connects to one address of a hop. Opportunistic STARTTLS whose handshake fails is retried once
 * in plain text (RFC 7435 §3: opportunistic security must not make delivery fail where plain
 * text would work; Postfix's "may" level does the same).
 */
async function connectHop(
  ctx: DeliverContext,
  hop: Hop,
  address: string,
  label: string,
): Promise<SmtpClient> {
  const connect = (tls: Hop['tls']) =>
    SmtpClient.connect({
      host: address,
      port: hop.port,
      tls,
      ...(isIP(hop.name) ? {} : { servername: hop.name }),
      ...(hop.verifyTls !== undefined ? { rejectUnauthorized: hop.verifyTls } : {}),
      ...(ctx.ca ? { ca: ctx.ca } : {}),
      localName: ctx.hostname,
      timeouts: ctx.timeouts,
      logger: ctx.logger,
    });
  try {
    return await connect(hop.tls);
  } catch (err) {
    const tlsFailed = err instanceof SmtpClientError && err.stage === 'starttls' && !err.reply;
    if (hop.tls !== 'starttls' || !tlsFailed) throw err;
    ctx.logger.warn(
      { host: label, err: (err as Error).message },
      'TLS handshake failed; retrying without TLS',
    );
    return connect('none');
  }
}

/** Delivers to `recipients` (pending ones of one domain) through `hops`; one outcome each. */
export async function deliverGroup(
  ctx: DeliverContext,
  entry: QueueEntry,
  recipients: QueueRecipient[],
  hops: Hop[],
  bytes: BytesSource,
): Promise<RecipientOutcome[]> {
  const done = new Map<number, RecipientOutcome>();
  let remaining = recipients;
  let lastTemp: QueueAttemptResult = { status: '4.4.1', diagnostic: 'no host could be tried' };
  let sizeRefused: QueueAttemptResult | undefined;
  const finalFor = (rs: QueueRecipient[], state: RecipientOutcome['state'], result: QueueAttemptResult) => {
    for (const r of rs) done.set(r.index, { index: r.index, state, result });
  };

  outer: for (const hop of hops) {
    for (const address of hop.addresses) {
      if (remaining.length === 0) break outer;
      const label = `${hop.name}[${address}]:${hop.port}`;
      const key = `${hop.name}|${address}|${hop.port}|${hop.tls}|${hop.verifyTls ?? ''}|${hop.auth?.username ?? ''}`;
      let cached = ctx.cache?.take(key);
      for (;;) {
        const reused = cached !== undefined;
        let client: SmtpClient;
        try {
          client = cached ?? (await connectHop(ctx, hop, address, label));
        } catch (err) {
          lastTemp = errorResult(err, hop.name).result;
          ctx.logger.info({ host: label, err: lastTemp.diagnostic }, 'outbound connection failed');
          break;
        }
        cached = undefined;
        let keep = false;
        let retryFresh = false;
        try {
          if (hop.auth && !reused)
            await client.auth({ username: hop.auth.username, password: hop.auth.password });
          const caps = client.capabilities;
          if (entry.smtputf8 && !caps.smtpUtf8) {
            finalFor(remaining, 'failed', {
              status: '5.6.7',
              diagnostic: `${hop.name} does not support SMTPUTF8, which this message (internationalized addresses or headers) needs`,
              remoteMta: hop.name,
            });
            remaining = [];
            break outer;
          }
          let body: MessageSource;
          let body8bit = entry.body8bit;
          let size = entry.size;
          const stream = () => withoutReturnPath(bytes());
          if (!caps.eightBitMime) {
            // Rare path: a 7-bit-only server. Look at the bytes; convert when they are 8-bit.
            const whole = await collect(stream());
            if (has8bit(whole)) {
              try {
                body = downgradeTo7bit(whole);
              } catch (err) {
                if (!(err instanceof DowngradeError)) throw err;
                finalFor(remaining, 'failed', {
                  status: '5.6.3',
                  diagnostic: `${hop.name} does not support 8BITMIME and the message cannot be converted to 7bit: ${err.message}`,
                  remoteMta: hop.name,
                });
                remaining = [];
                break outer;
              }
            } else body = whole;
            body8bit = false;
            size = (body as Buffer).length;
          } else {
            body = stream() as unknown as MessageSource;
          }
          if (ctx.sign) {
            const signed = body;
            const sig = await ctx.sign(entry, () =>
              Buffer.isBuffer(signed) ? signed : Readable.from(stream()),
            );
            if (sig) {
              const rest = Buffer.isBuffer(signed) ? signed : stream();
              body = (async function* () {
                yield Buffer.from(sig);
                if (Buffer.isBuffer(rest)) yield rest;
                else yield* rest as AsyncIterable<Uint8Array>;
              })() as unknown as MessageSource;
              size += sig.length;
            }
          }
          const specs: RecipientSpec[] = remaining.map((r) => {
            const s: RecipientSpec = { address: r.address };
            if (r.notify) s.notify = r.notify;
            if (r.orcpt) {
              const i = r.orcpt.indexOf(';');
              s.orcpt = i < 0 ? r.orcpt : { type: r.orcpt.slice(0, i), address: r.orcpt.slice(i + 1) };
            }
            return s;
          });
          const env: Envelope = {
            from: entry.mailFrom,
            recipients: specs,
            size,
            body8bit,
            smtputf8: entry.smtputf8,
          };
          if (entry.ret) env.ret = entry.ret;
          if (entry.envid !== undefined) env.envid = entry.envid;
          const res = await client.send(env, body);
          const retryHere: QueueRecipient[] = [];
          remaining.forEach((r, i) => {
            const rr = res.recipients[i]!;
            if (!rr.accepted) {
              const result = smtpResult(rr.reply, hop.name, rr.code >= 500 ? '5.0.0' : '4.0.0');
              if (rr.code >= 500) done.set(r.index, { index: r.index, state: 'failed', result });
              else {
                lastTemp = result;
                retryHere.push(r);
              }
              return;
            }
            if (res.ok) {
              done.set(r.index, {
                index: r.index,
                state: 'delivered',
                result: {
                  ...smtpResult(res.data!, hop.name, '2.0.0'),
                  ...(caps.dsn ? {} : { relayed: true }),
                },
              });
            } else if (res.data && res.data.code >= 500) {
              done.set(r.index, {
                index: r.index,
                state: 'failed',
                result: smtpResult(res.data, hop.name, '5.0.0'),
              });
            } else {
              if (res.data) lastTemp = smtpResult(res.data, hop.name, '4.0.0');
              retryHere.push(r);
            }
          });
          remaining = retryHere;
          keep = true;
          ctx.logger.info(
            {
              queueId: entry.id,
              host: label,
              tls: client.secure,
              delivered: res.delivered.length,
              deferred: retryHere.length,
            },
            'outbound transaction',
          );
        } catch (err) {
          const e = errorResult(err, hop.name);
          // A cached connection the server closed meanwhile: try once more on a fresh one.
          if (
            reused &&
            err instanceof SmtpClientError &&
            (err.code === 'network' || err.code === 'protocol' || err.reply?.code === 421)
          ) {
            retryFresh = true;
          } else if (err instanceof SmtpClientError && err.code === 'size') {
            sizeRefused = e.result;
          } else if (!e.temporary) {
            finalFor(remaining, 'failed', e.result);
            remaining = [];
          } else lastTemp = e.result;
          ctx.logger.info(
            { queueId: entry.id, host: label, err: e.result.diagnostic },
            'outbound attempt failed',
          );
        } finally {
          if (keep && ctx.cache && client.usable) ctx.cache.put(key, client);
          else if (client.usable) await client.quit().catch(() => client.close());
          else client.close();
        }
        if (!retryFresh) break;
      }
    }
  }
  if (remaining.length > 0) {
    if (sizeRefused && lastTemp.status === '4.4.1' && lastTemp.diagnostic === 'no host could be tried') {
      finalFor(remaining, 'failed', sizeRefused);
    } else finalFor(remaining, 'pending', sizeRefused && !lastTemp.remoteMta ? sizeRefused : lastTemp);
  }
  return recipients.map((r) => done.get(r.index)!);
}
