import type { DnsResolver, MxRecord } from '../../src/core/index.js';

function dnsError(code: 'ENOTFOUND' | 'ENODATA', name: string): Error {
  return Object.assign(new Error(`${code} ${name}`), { code, hostname: name });
}

/**
 * An in-memory DNS for tests. Names not mentioned at all are NXDOMAIN (ENOTFOUND); names that
 * exist but lack the asked type answer ENODATA, as a real resolver does.
 */
export class FakeResolver implements DnsResolver {
  readonly mx = new Map<string, MxRecord[]>();
  readonly a = new Map<string, string[]>();
  readonly aaaa = new Map<string, string[]>();
  readonly txt = new Map<string, string[][]>();
  readonly ptr = new Map<string, string[]>();
  /** Every question asked, as `TYPE name`, for assertions. */
  readonly queries: string[] = [];

  private exists(name: string): boolean {
    return [this.mx, this.a, this.aaaa, this.txt].some((m) => m.has(name));
  }

  private answer<T>(type: string, map: Map<string, T[]>, name: string): Promise<T[]> {
    const n = name.toLowerCase().replace(/\.$/, '');
    this.queries.push(`${type} ${n}`);
    const v = map.get(n);
    if (v?.length) return Promise.resolve(v);
    return Promise.reject(dnsError(this.exists(n) ? 'ENODATA' : 'ENOTFOUND', n));
  }

  resolveMx(domain: string) {
    return this.answer('MX', this.mx, domain);
  }
  resolve4(host: string) {
    return this.answer('A', this.a, host);
  }
  resolve6(host: string) {
    return this.answer('AAAA', this.aaaa, host);
  }
  resolveTxt(name: string) {
    return this.answer('TXT', this.txt, name);
  }
  reverse(ip: string) {
    return this.answer('PTR', this.ptr, ip);
  }
}
