/**
 * Checks a login (SMTP AUTH, POP3 USER/PASS, web) against the store. A login name is a full
 * address, or a bare local part (`kihyun`, as the course types it) when that is unambiguous: one
 * user with that local part, or one in the server's default domain. Unknown users cost the same
 * scrypt time as known ones, so timing does not tell which addresses exist.
 */
import type { Store, User } from '../../store/types.js';
import { dummyHash, verifyPassword } from './password.js';

export interface AuthenticatorOptions {
  /** Domain tried first for a bare local part (the server's hostname, e.g. uu.ac.kr). */
  defaultDomain?: string;
}

export class Authenticator {
  constructor(
    private readonly store: Store,
    private readonly opts: AuthenticatorOptions = {},
  ) {}

  /** The user a login name names, or undefined. */
  async resolveLogin(login: string): Promise<User | undefined> {
    const name = login.trim();
    if (!name || name.length > 320) return undefined;
    if (name.includes('@')) return this.store.users.get(name);
    const candidates = await this.store.users.findByLocalPart(name);
    if (candidates.length === 1) return candidates[0];
    const dd = this.opts.defaultDomain?.toLowerCase();
    return dd ? candidates.find((u) => u.address.toLowerCase().endsWith(`@${dd}`)) : undefined;
  }

  /** The canonical address on success; undefined for a bad name or password (never which). */
  async authenticate(login: string, password: string): Promise<string | undefined> {
    const user = await this.resolveLogin(login);
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyHash()));
    return ok && user ? user.address : undefined;
  }
}
