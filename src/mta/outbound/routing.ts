/**
 * Where mail for a domain goes (RFC 5321 §5.1): a static route for the domain, else the smarthost,
 * else the domain's MX records in preference order (equal preferences shuffled, §5.1 "SHOULD …
 * randomize"), else — when the domain has no MX but has addresses — the domain itself as implicit
 * MX. A null MX (RFC 7505: one record with exchange ".") or a domain that does not exist is a
 * permanent failure; a DNS failure (SERVFAIL, timeout) is temporary.
 *
 * Addresses are looked up through the injectable DnsResolver, so tests run on FakeResolver and
 * the SMTP client connects to IP addresses (with the MX name for TLS SNI and logs).
 */
import type { DnsResolver } from '../../core/index.js';
import type { SmtpTlsMode } from '../../smtp/client/index.js';

/** A static route or smarthost: where to connect and how. */
export interface RelayHost {
  host: string;
  port: number;
  /** Default 'starttls' (opportunistic). */
  tls?: SmtpTlsMode;
  /** Check the certificate (default: only for 'implicit' and 'starttls-required'). */
  verifyTls?: boolean;
  auth?: { username: string; password: string };
}

export interface RoutingConfig {
  /** Domain (lower-case) → relay host; checked first. */
  routes?: Record<string, RelayHost>;
  /** Everything else goes here when set. */
  smarthost?: RelayHost;
  /** Port for MX hosts (25; tests use another). */
  mxPort?: number;
}

/** One host to try: a name (for SNI and logs) and the addresses to connect to. */
export interface Hop {
  name: string;
  addresses: string[];
  port: number;
  tls: SmtpTlsMode;
  verifyTls?: boolean;
  auth?: { username: string; password: string };
}

export type RouteResult =
  | { kind: 'hops'; hops: Hop[]; via: 'route' | 'smarthost' | 'mx' | 'implicit-mx' }
  | { kind: 'fail'; temporary: boolean; status: string; diagnostic: string };

/** RFC 5321 §4.5.3.1: an MX list longer than this is cut (Postfix smtp_mx_address_limit is 5). */
export const MAX_MX_HOSTS = 10;

const dnsCode = (err: unknown) => (err as NodeJS.ErrnoException)?.code ?? '';
const absent = (err: unknown) => ['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME'].includes(dnsCode(err));

function shuffle<T>(a: T[], random: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function relayHop(r: RelayHost): Hop {
  const hop: Hop = { name: r.host, addresses: [r.host], port: r.port, tls: r.tls ?? 'starttls' };
  if (r.verifyTls !== undefined) hop.verifyTls = r.verifyTls;
  if (r.auth) hop.auth = r.auth;
  return hop;
}

/** A host's addresses, IPv4 first; [] when it has none; throws on a DNS failure. */
async function addressesOf(resolver: DnsResolver, host: string): Promise<string[]> {
  const out: string[] = [];
  let failure: unknown;
  for (const q of [() => resolver.resolve4(host), () => resolver.resolve6(host)]) {
    try {
      out.push(...(await q()));
    } catch (err) {
      if (!absent(err)) failure = err;
    }
  }
  if (out.length === 0 && failure) throw failure;
  return out;
}

export async function route(
  domain: string,
  cfg: RoutingConfig,
  resolver: DnsResolver,
  random: () => number = Math.random,
): Promise<RouteResult> {
  const d = domain.toLowerCase();
  const r = cfg.routes?.[d];
  if (r) return { kind: 'hops', hops: [relayHop(r)], via: 'route' };
  if (cfg.smarthost) return { kind: 'hops', hops: [relayHop(cfg.smarthost)], via: 'smarthost' };
  const port = cfg.mxPort ?? 25;
  const temp = (what: string, err: unknown): RouteResult => ({
    kind: 'fail',
    temporary: true,
    status: '4.4.3',
    diagnostic: `DNS lookup of ${what} failed (${dnsCode(err) || (err as Error).message})`,
  });
  let mx: { exchange: string; priority: number }[];
  try {
    mx = await resolver.resolveMx(d);
  } catch (err) {
    if (dnsCode(err) === 'ENOTFOUND' || dnsCode(err) === 'NXDOMAIN') {
      return {
        kind: 'fail',
        temporary: false,
        status: '5.1.2',
        diagnostic: `Domain ${d} does not exist (NXDOMAIN)`,
      };
    }
    if (!absent(err)) return temp(`MX ${d}`, err);
    mx = [];
  }
  if (mx.length === 1 && (mx[0]!.exchange === '' || mx[0]!.exchange === '.')) {
    return {
      kind: 'fail',
      temporary: false,
      status: '5.1.10',
      diagnostic: `Domain ${d} does not accept mail (null MX, RFC 7505)`,
    };
  }
  if (mx.length === 0) {
    // RFC 5321 §5.1: no MX → the domain itself is the implicit MX, if it has an address.
    let addrs: string[];
    try {
      addrs = await addressesOf(resolver, d);
    } catch (err) {
      return temp(`A/AAAA ${d}`, err);
    }
    if (addrs.length === 0) {
      return {
        kind: 'fail',
        temporary: false,
        status: '5.1.2',
        diagnostic: `Domain ${d} has no MX and no address`,
      };
    }
    return { kind: 'hops', hops: [{ name: d, addresses: addrs, port, tls: 'starttls' }], via: 'implicit-mx' };
  }
  // Preference order; equal preferences in random order (§5.1).
  const byPref = new Map<number, string[]>();
  for (const m of mx) {
    const name = m.exchange.replace(/\.$/, '').toLowerCase();
    if (name === '') continue;
    byPref.set(m.priority, [...(byPref.get(m.priority) ?? []), name]);
  }
  const names = [...byPref.keys()]
    .sort((a, b) => a - b)
    .flatMap((p) => shuffle(byPref.get(p)!, random))
    .slice(0, MAX_MX_HOSTS);
  const hops: Hop[] = [];
  let lastErr: unknown;
  for (const name of names) {
    try {
      const addrs = await addressesOf(resolver, name);
      if (addrs.length > 0) hops.push({ name, addresses: addrs, port, tls: 'starttls' });
    } catch (err) {
      lastErr = err;
    }
  }
  if (hops.length === 0) {
    if (lastErr) return temp(`MX hosts of ${d}`, lastErr);
    return {
      kind: 'fail',
      temporary: true,
      status: '4.4.4',
      diagnostic: `No address for any MX host of ${d}`,
    };
  }
  return { kind: 'hops', hops, via: 'mx' };
}

/** Parses `host:port` (or `[v6]:port`) of a route; port defaults to 25. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const t = text.trim();
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : 25 };
  const m = /^([^:\s]+)(?::(\d+))?$/.exec(t);
  if (!m) return undefined;
  const port = m[2] ? Number(m[2]) : 25;
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}
