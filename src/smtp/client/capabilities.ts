/**
 * The EHLO keywords the client acts on (RFC 5321 §4.1.1.1), typed. The shared codec splits the
 * reply into keyword → parameters; this reads SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8
 * (RFC 6531), PIPELINING (RFC 2920), STARTTLS (RFC 3207), AUTH (RFC 4954, and the pre-standard
 * `AUTH=` form some servers still send), CHUNKING and BINARYMIME (RFC 3030), DSN (RFC 3461) and
 * ENHANCEDSTATUSCODES (RFC 2034). Unknown keywords stay in `raw`.
 */
import { parseEhloReply } from '../codec/capabilities.js';
import type { SmtpReply } from '../server/backend.js';

export interface SmtpCapabilities {
  /** True when the server answered EHLO; false after the HELO fallback (no extensions). */
  esmtp: boolean;
  /** SIZE limit in octets; 0 when SIZE is offered without a fixed limit; undefined when not offered. */
  size?: number;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  pipelining: boolean;
  startTls: boolean;
  chunking: boolean;
  binaryMime: boolean;
  dsn: boolean;
  enhancedStatusCodes: boolean;
  /** SASL mechanisms offered, upper-cased. */
  auth: string[];
  /** Every keyword (upper-cased) → its parameters. */
  raw: Map<string, string[]>;
}

/** Capabilities of a server greeted with HELO: none. */
export function heloCapabilities(): SmtpCapabilities {
  return fromMap(new Map(), false);
}

export function parseCapabilities(ehloReply: SmtpReply): SmtpCapabilities {
  return fromMap(parseEhloReply(ehloReply), true);
}

function fromMap(raw: Map<string, string[]>, esmtp: boolean): SmtpCapabilities {
  const caps: SmtpCapabilities = {
    esmtp,
    eightBitMime: raw.has('8BITMIME'),
    smtpUtf8: raw.has('SMTPUTF8'),
    pipelining: raw.has('PIPELINING'),
    startTls: raw.has('STARTTLS'),
    chunking: raw.has('CHUNKING'),
    binaryMime: raw.has('BINARYMIME'),
    dsn: raw.has('DSN'),
    enhancedStatusCodes: raw.has('ENHANCEDSTATUSCODES'),
    auth: [],
    raw,
  };
  const size = raw.get('SIZE');
  if (size) {
    const n = Number(size[0] ?? '0');
    caps.size = Number.isSafeInteger(n) && n >= 0 ? n : 0;
  }
  const mechs = new Set<string>();
  for (const [keyword, params] of raw) {
    if (keyword === 'AUTH') for (const m of params) mechs.add(m.toUpperCase());
    else if (keyword.startsWith('AUTH='))
      for (const m of [keyword.slice(5), ...params]) if (m) mechs.add(m.toUpperCase());
  }
  caps.auth = [...mechs];
  return caps;
}
