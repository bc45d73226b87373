/**
 * Who a RCPT TO address reaches: local users (directly, by alias, `local+tag` sub-addressing or
 * the RFC 5321 §4.5.1 postmaster rule), remote addresses reached through aliases and per-user
 * forwarding (`remote`, to be queued with an SRS sender), a domain that is not ours (remote), or
 * nobody (550). A user forwarding without `keep` still gets the message when none of its targets
 * can take it (a loop, say), so mail is never silently dropped.
 * Alias expansion is bounded in depth and width so a loop or a huge list cannot hang a session.
 */
import type { Store, User } from '../../store/types.js';

export const MAX_ALIAS_DEPTH = 8;
export const MAX_EXPANDED_TARGETS = 1000;

export type Resolution =
  | { kind: 'local'; users: User[]; remote: string[] }
  | { kind: 'unknown' }
  | { kind: 'remote' };

export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  return at < 0
    ? { local: address, domain: '' }
    : { local: address.slice(0, at), domain: address.slice(at + 1) };
}

export async function resolveRecipient(store: Store, address: string): Promise<Resolution> {
  const { local, domain } = splitAddress(address);
  if (!domain || !(await store.domains.has(domain))) return { kind: 'remote' };
  const users = new Map<number, User>();
  const remote: string[] = [];
  const seen = new Set<string>();

  const expand = async (addr: string, depth: number): Promise<boolean> => {
    const key = addr.toLowerCase();
    if (seen.has(key) || seen.size > MAX_EXPANDED_TARGETS) return seen.has(key);
    seen.add(key);
    const { local: l, domain: d } = splitAddress(addr);
    if (!(await store.domains.has(d))) {
      remote.push(addr);
      return true;
    }
    const alias = depth < MAX_ALIAS_DEPTH ? await store.aliases.get(addr) : undefined;
    if (alias) {
      let any = false;
      for (const t of alias.targets) any = (await expand(t, depth + 1)) || any;
      return any;
    }
    const user = await store.users.get(addr);
    if (user) {
      // Per-user forwarding: the targets (local or remote), and the user itself only with keep.
      if (user.forward && depth < MAX_ALIAS_DEPTH) {
        let any = false;
        for (const t of user.forward.targets) {
          if (t.toLowerCase() === key) continue;
          any = (await expand(t, depth + 1)) || any;
        }
        if (user.forward.keep || !any) users.set(user.id, user);
        return true;
      }
      users.set(user.id, user);
      return true;
    }
    const plus = l.indexOf('+');
    if (plus > 0) return expand(`${l.slice(0, plus)}@${d}`, depth + 1);
    return false;
  };

  let found = await expand(`${local}@${domain.toLowerCase()}`, 0);
  if (!found && local.toLowerCase() === 'postmaster') {
    for (const u of await store.users.list(domain)) if (u.isAdmin) users.set(u.id, u);
    found = users.size > 0;
  }
  return found && (users.size > 0 || remote.length > 0)
    ? { kind: 'local', users: [...users.values()], remote }
    : { kind: 'unknown' };
}
