/**
 * Accounts in the PostgreSQL store: domains, users (with forwarding) and aliases. Reads of single
 * names go through the account cache (account-cache.ts); every write is an `accountTx`: one
 * transaction serialized with the other account writes (an alias can never shadow a user created
 * at the same moment on another node) that notifies every node's cache when it commits.
 */
import type { PoolClient } from 'pg';
import { lookupDomain, lookupKey, normalizeAddress, normalizeDomain, normalizeTargets } from '../names.js';
import type { Alias, Domain, Store, User } from '../types.js';
import { StoreError } from '../types.js';
import { notFound, type RepoContext } from './context.js';

interface UserRow {
  id: number;
  address: string;
  password_hash: string;
  is_admin: boolean;
  created_at: number;
  forward: User['forward'] | null;
}

const USER_COLS = 'id, address, password_hash, is_admin, created_at, forward';

const toUser = (r: UserRow): User => ({
  id: r.id,
  address: r.address,
  passwordHash: r.password_hash,
  isAdmin: r.is_admin,
  createdAt: new Date(r.created_at),
  // jsonb does not keep key order; give it back in the order every backend uses.
  ...(r.forward ? { forward: { targets: r.forward.targets, keep: r.forward.keep } } : {}),
});

export function createAccountRepos(x: RepoContext): Pick<Store, 'domains' | 'users' | 'aliases'> {
  const { q, live, cache, accountTx, freeUnused, lockBlobs } = x;
  const userKey = (address: string) => normalizeAddress(address).key;
  const domainExists = async (c: PoolClient, name: string) =>
    (await c.query('SELECT 1 FROM domains WHERE name = $1', [name])).rowCount! > 0;

  return {
    domains: {
      add: async (name) => {
        const d = normalizeDomain(name);
        const now = Date.now();
        await accountTx(async (c) => {
          const r = await c.query(
            'INSERT INTO domains (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING name',
            [d, now],
          );
          if (r.rowCount === 0) throw new StoreError('conflict', `domain exists: ${d}`);
        });
        return { name: d, createdAt: new Date(now) } satisfies Domain;
      },
      list: async () =>
        (
          await q<{ name: string; created_at: number }>('SELECT name, created_at FROM domains ORDER BY name')
        ).map((r) => ({ name: r.name, createdAt: new Date(r.created_at) })),
      has: async (name) => {
        live();
        const d = lookupDomain(name);
        if (d === undefined) return false;
        return cache.get(
          `d:${d}`,
          async () => (await q('SELECT 1 FROM domains WHERE name = $1', [d], 'ps-domain-has')).length > 0,
        );
      },
      remove: async (name) => {
        const d = normalizeDomain(name);
        await accountTx(async (c) => {
          if (!(await domainExists(c, d))) throw notFound('domain', d);
          const used = await c.query(
            'SELECT 1 FROM users WHERE domain = $1 UNION ALL SELECT 1 FROM aliases WHERE domain = $1 LIMIT 1',
            [d],
          );
          if (used.rowCount! > 0) throw new StoreError('conflict', `domain ${d} still has users or aliases`);
          await c.query('DELETE FROM domains WHERE name = $1', [d]);
        });
      },
    },

    users: {
      add: async (input) => {
        const a = normalizeAddress(input.address);
        const now = Date.now();
        const isAdmin = input.isAdmin ?? false;
        const id = await accountTx(async (c) => {
          if (!(await domainExists(c, a.domain))) throw notFound('domain', a.domain);
          if ((await c.query('SELECT 1 FROM aliases WHERE address_key = $1', [a.key])).rowCount! > 0)
            throw new StoreError('conflict', `an alias has this address: ${a.address}`);
          const r = await c.query<{ id: number }>(
            `INSERT INTO users (address, address_key, local_key, domain, password_hash, is_admin, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id`,
            [a.address, a.key, a.local.toLowerCase(), a.domain, input.passwordHash, isAdmin, now],
          );
          if (r.rowCount === 0) throw new StoreError('conflict', `user exists: ${a.address}`);
          return r.rows[0]!.id;
        });
        return {
          id,
          address: a.address,
          passwordHash: input.passwordHash,
          isAdmin,
          createdAt: new Date(now),
        } satisfies User;
      },
      get: async (address) => {
        live();
        const key = lookupKey(address);
        if (key === undefined) return undefined;
        return cache.get(`u:${key}`, async () => {
          const r = await q<UserRow>(
            `SELECT ${USER_COLS} FROM users WHERE address_key = $1`,
            [key],
            'ps-user-key',
          );
          return r[0] && toUser(r[0]);
        });
      },
      getById: async (id) => {
        live();
        return cache.get(`i:${id}`, async () => {
          const r = await q<UserRow>(`SELECT ${USER_COLS} FROM users WHERE id = $1`, [id], 'ps-user-id');
          return r[0] && toUser(r[0]);
        });
      },
      findByLocalPart: async (local) =>
        (
          await q<UserRow>(`SELECT ${USER_COLS} FROM users WHERE local_key = $1 ORDER BY id`, [
            local.toLowerCase(),
          ])
        ).map(toUser),
      list: async (domain) => {
        live();
        if (domain === undefined)
          return (await q<UserRow>(`SELECT ${USER_COLS} FROM users ORDER BY address_key`)).map(toUser);
        const d = lookupDomain(domain);
        if (d === undefined) return [];
        return (
          await q<UserRow>(`SELECT ${USER_COLS} FROM users WHERE domain = $1 ORDER BY address_key`, [d])
        ).map(toUser);
      },
      setPassword: async (address, passwordHash) => {
        const key = userKey(address);
        await accountTx(async (c) => {
          const r = await c.query('UPDATE users SET password_hash = $1 WHERE address_key = $2', [
            passwordHash,
            key,
          ]);
          if (r.rowCount === 0) throw notFound('user', key);
        });
      },
      setForward: async (address, forward) => {
        const key = userKey(address);
        let value: string | null = null;
        if (forward) {
          if (forward.targets.length === 0)
            throw new StoreError('invalid', 'forwarding needs at least one target');
          value = JSON.stringify({ targets: normalizeTargets(forward.targets), keep: forward.keep });
        }
        await accountTx(async (c) => {
          const r = await c.query('UPDATE users SET forward = $1 WHERE address_key = $2', [value, key]);
          if (r.rowCount === 0) throw notFound('user', key);
        });
      },
      remove: async (address) => {
        const key = userKey(address);
        await accountTx(async (c) => {
          const u = await c.query<{ id: number }>('SELECT id FROM users WHERE address_key = $1 FOR UPDATE', [
            key,
          ]);
          const id = u.rows[0]?.id;
          if (id === undefined) throw notFound('user', key);
          const blobs = await c.query<{ blob_id: number }>(
            `SELECT DISTINCT m.blob_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = $1`,
            [id],
          );
          const ids = blobs.rows.map((r) => r.blob_id);
          await lockBlobs(c, ids);
          await c.query('DELETE FROM users WHERE id = $1', [id]); // mailboxes and messages cascade
          await freeUnused(c, ids);
        });
      },
    },

    aliases: {
      add: async (address, targets) => {
        const a = normalizeAddress(address);
        const t = normalizeTargets(targets);
        if (t.length === 0) throw new StoreError('invalid', 'an alias needs at least one target');
        return accountTx(async (c): Promise<Alias> => {
          if (!(await domainExists(c, a.domain))) throw notFound('domain', a.domain);
          if ((await c.query('SELECT 1 FROM users WHERE address_key = $1', [a.key])).rowCount! > 0)
            throw new StoreError('conflict', `a user has this address: ${a.address}`);
          const old = await c.query<{ address: string; targets: string[] }>(
            'SELECT address, targets FROM aliases WHERE address_key = $1 FOR UPDATE',
            [a.key],
          );
          const row = old.rows[0];
          if (!row) {
            await c.query(
              'INSERT INTO aliases (address_key, address, domain, targets, created_at) VALUES ($1, $2, $3, $4, $5)',
              [a.key, a.address, a.domain, JSON.stringify(t), Date.now()],
            );
            return { address: a.address, targets: t };
          }
          const merged = [...row.targets];
          const seen = new Set(merged.map((x) => x.toLowerCase()));
          for (const x of t) if (!seen.has(x.toLowerCase())) merged.push(x);
          await c.query('UPDATE aliases SET targets = $1 WHERE address_key = $2', [
            JSON.stringify(merged),
            a.key,
          ]);
          return { address: row.address, targets: merged };
        });
      },
      get: async (address) => {
        live();
        const key = lookupKey(address);
        if (key === undefined) return undefined;
        return cache.get(`a:${key}`, async () => {
          const r = await q<Alias>(
            'SELECT address, targets FROM aliases WHERE address_key = $1',
            [key],
            'ps-alias',
          );
          return r[0];
        });
      },
      list: async (domain) => {
        live();
        if (domain === undefined)
          return q<Alias>('SELECT address, targets FROM aliases ORDER BY address_key');
        const d = lookupDomain(domain);
        if (d === undefined) return [];
        return q<Alias>('SELECT address, targets FROM aliases WHERE domain = $1 ORDER BY address_key', [d]);
      },
      remove: async (address) => {
        const key = userKey(address);
        await accountTx(async (c) => {
          const r = await c.query('DELETE FROM aliases WHERE address_key = $1', [key]);
          if (r.rowCount === 0) throw notFound('alias', key);
        });
      },
    },
  };
}
