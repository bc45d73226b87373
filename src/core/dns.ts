/**
 * The DNS questions Posthorn asks, as an injectable interface: production passes node:dns's
 * promises Resolver, tests a fake (test/support/fake-dns.ts), so tests never query the machine's
 * resolver. Errors follow node:dns: `code` 'ENOTFOUND' (NXDOMAIN) or 'ENODATA' (no such record).
 */
export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface DnsResolver {
  resolveMx(domain: string): Promise<MxRecord[]>;
  resolve4(host: string): Promise<string[]>;
  resolve6(host: string): Promise<string[]>;
  resolveTxt(name: string): Promise<string[][]>;
  reverse(ip: string): Promise<string[]>;
}
