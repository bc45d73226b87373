/**
 * Name rules shared by every store backend, so that they agree on what is the same domain or
 * address: domains compare and store lower-cased; an address compares case-insensitively as a
 * whole (the lower-cased form is its key), while the stored address keeps the local part's case as
 * it was created (for display) and lower-cases the domain (types.ts). Bad names are refused with
 * StoreError('invalid'); nothing here does I/O.
 */
import { StoreError } from './types.js';

/** RFC 5321 §4.5.3.1.2: a domain is at most 255 octets. */
export const MAX_DOMAIN_LENGTH = 255;
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, angle brackets included. */
export const MAX_ADDRESS_LENGTH = 254;
/** Mailbox names are ours to bound; generous for IMAP-style hierarchies later. */
export const MAX_MAILBOX_NAME_LENGTH = 255;

// Whitespace, control characters, brackets and '@' never belong in a domain name we store.
const BAD_DOMAIN = /[\s\x00-\x1f\x7f@<>,;:"\\/[\]]/;
const BAD_LOCAL = /[\s\x00-\x1f\x7f<>]/;

/** The stored form of a domain name: trimmed, lower-cased, without a trailing dot. */
export function normalizeDomain(name: string): string {
  const d = name.trim().replace(/\.$/, '').toLowerCase();
  if (
    d === '' ||
    d.length > MAX_DOMAIN_LENGTH ||
    BAD_DOMAIN.test(d) ||
    d.startsWith('.') ||
    d.includes('..')
  ) {
    throw new StoreError('invalid', `invalid domain name: ${JSON.stringify(name)}`);
  }
  return d;
}

/** An address split into its display form, its lookup key and its parts. */
export interface NormalizedAddress {
  /** local@domain with the domain lower-cased and the local part as given. */
  address: string;
  /** The whole address lower-cased: what lookups compare. */
  key: string;
  local: string;
  domain: string;
}

/** Splits at the last '@' (a quoted local part may contain one) and validates both halves. */
export function normalizeAddress(input: string): NormalizedAddress {
  const a = input.trim();
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1 || a.length > MAX_ADDRESS_LENGTH) {
    throw new StoreError('invalid', `invalid address: ${JSON.stringify(input)}`);
  }
  const local = a.slice(0, at);
  if (BAD_LOCAL.test(local)) throw new StoreError('invalid', `invalid address: ${JSON.stringify(input)}`);
  const domain = normalizeDomain(a.slice(at + 1));
  const address = `${local}@${domain}`;
  return { address, key: address.toLowerCase(), local, domain };
}

/** Mailbox names are compared exactly (IMAP does, except INBOX, which is always upper-case). */
export function normalizeMailboxName(name: string): string {
  const n = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
  if (n === '' || n.length > MAX_MAILBOX_NAME_LENGTH || /[\x00-\x1f\x7f]/.test(n)) {
    throw new StoreError('invalid', `invalid mailbox name: ${JSON.stringify(name)}`);
  }
  return n;
}

/** Flags are kept sorted and unique so that both backends return them alike. */
export function normalizeFlags(flags: readonly string[] | undefined): string[] {
  if (!flags) return [];
  for (const f of flags) {
    if (f === '' || /[\s\x00-\x1f\x7f]/.test(f))
      throw new StoreError('invalid', `invalid flag: ${JSON.stringify(f)}`);
  }
  return [...new Set(flags)].sort();
}

/** Alias targets: trimmed, validated, de-duplicated case-insensitively, first spelling kept. */
export function normalizeTargets(targets: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const t of targets) {
    const n = normalizeAddress(t);
    if (seen.has(n.key)) continue;
    seen.add(n.key);
    out.push(n.address);
  }
  return out;
}

/**
 * For lookups: a malformed name names nothing (SMTP hands us `user@[127.0.0.1]` and worse), so
 * `has`/`get`/`list` answer "absent" instead of failing. Writes still refuse it as 'invalid'.
 */
export function lookupDomain(name: string): string | undefined {
  try {
    return normalizeDomain(name);
  } catch {
    return undefined;
  }
}

/** The lookup key of an address, or undefined when it is malformed (see lookupDomain). */
export function lookupKey(address: string): string | undefined {
  try {
    return normalizeAddress(address).key;
  } catch {
    return undefined;
  }
}
