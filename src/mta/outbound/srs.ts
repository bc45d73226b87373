/**
 * Sender Rewriting Scheme (SRS0, as in libsrs2/Postfix's postsrsd) for forwarded mail: a message
 * from alice@example.org forwarded by us to a remote target leaves with the reverse path
 * `SRS0=HHHH=TT=example.org=alice@<our domain>`, so SPF at the target checks *our* domain, which
 * authorises us. HHHH is a keyed hash (HMAC-SHA1, base64, 4 chars) over TT, the domain and the
 * local part; TT the day number (base32, mod 1024). A bounce to that address comes back to us and
 * `srsReverse` gives the original sender back, refusing forged or expired (> MAX_SRS_AGE_DAYS)
 * addresses, so we are no open relay for bounces.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAX_SRS_AGE_DAYS = 21;
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function day(now: Date): number {
  return Math.floor(now.getTime() / 86_400_000) % 1024;
}

function stamp(d: number): string {
  return B32[(d >> 5) & 31]! + B32[d & 31]!;
}

function hash(secret: string, tt: string, domain: string, local: string): string {
  return createHmac('sha1', secret)
    .update(`${tt}${domain}${local}`.toLowerCase())
    .digest('base64')
    .slice(0, 4);
}

/** The SRS0 reverse path for `sender`, forwarded by `ourDomain`. A null sender stays null. */
export function srsForward(sender: string, ourDomain: string, secret: string, now = new Date()): string {
  if (sender === '') return '';
  const at = sender.lastIndexOf('@');
  if (at <= 0) return sender;
  let local = sender.slice(0, at);
  let domain = sender.slice(at + 1);
  // Already rewritten by someone else: keep their SRS0 inside ours (SRS1 is not needed for one hop).
  if (/^SRS0=/i.test(local) && domain.toLowerCase() === ourDomain.toLowerCase()) return sender;
  const tt = stamp(day(now));
  domain = domain.toLowerCase();
  local = local.replace(/^"|"$/g, '');
  return `SRS0=${hash(secret, tt, domain, local)}=${tt}=${domain}=${local}@${ourDomain}`;
}

/** The original sender of an SRS0 address of ours, or undefined when it is not valid. */
export function srsReverse(address: string, secret: string, now = new Date()): string | undefined {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const m = /^SRS0[=+-]([A-Za-z0-9+/]{4})=([A-Z2-7]{2})=([^=]+)=(.+)$/i.exec(local);
  if (!m) return undefined;
  const [, h, tt, domain, user] = m as unknown as [string, string, string, string, string];
  const want = Buffer.from(hash(secret, tt.toUpperCase(), domain, user));
  const got = Buffer.from(h);
  if (want.length !== got.length || !timingSafeEqual(want, got)) {
    // Case-insensitive match, as some MTAs lower-case local parts.
    if (hash(secret, tt.toUpperCase(), domain, user).toLowerCase() !== h.toLowerCase()) return undefined;
  }
  const then = (B32.indexOf(tt[0]!.toUpperCase()) << 5) | B32.indexOf(tt[1]!.toUpperCase());
  const age = (day(now) - then + 1024) % 1024;
  if (age > MAX_SRS_AGE_DAYS) return undefined;
  return `${user}@${domain}`;
}
