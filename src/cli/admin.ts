/**
 * Admin commands: domains, users, aliases (targets local or remote; remote ones are forwarded
 * through the outbound queue). They open the store themselves, so they work while the
 * server runs (SQLite in WAL mode lets both write; PostgreSQL later the same). Every failure is a
 * CliError: one line on stderr, exit status 1.
 */
import type { Command } from 'commander';
import { storeUrlFor } from '../config/index.js';
import { AddressError, isValidDomain, parsePath } from '../mime/mail/address.js';
import { hashPassword } from '../mta/auth/index.js';
import { splitAddress } from '../mta/inbound/recipients.js';
import { openStore } from '../store/index.js';
import { type Store, StoreError } from '../store/types.js';
import { CliError, readPassword } from './io.js';

export interface StoreFlags {
  data?: string;
  store?: string;
}

export function withStoreOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'data directory (default ./data or $POSTHORN_DATA)')
    .option('--store <url>', 'store URL: sqlite:PATH (default, in the data dir)');
}

export async function withStore<T>(flags: StoreFlags, fn: (store: Store) => Promise<T>): Promise<T> {
  let store: Store;
  try {
    store = await openStore(storeUrlFor(flags));
  } catch (err) {
    throw new CliError(`cannot open the store: ${(err as Error).message}`);
  }
  try {
    return await fn(store);
  } catch (err) {
    if (err instanceof StoreError) throw new CliError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}

export function checkDomain(name: string): string {
  const d = name.trim().toLowerCase().replace(/\.$/, '');
  if (!isValidDomain(d)) throw new CliError(`'${name}' is not a valid domain name`);
  return d;
}

/** A bare address (no angle brackets, no display name) in RFC 5321 mailbox syntax. */
export function checkAddress(text: string): string {
  try {
    const a = parsePath(`<${text.trim()}>`, { smtputf8: true });
    if (!a) throw new CliError(`'${text}' is not an address (local@domain)`);
    const { local, domain } = splitAddress(a);
    return `${local}@${domain.toLowerCase()}`;
  } catch (err) {
    if (err instanceof AddressError) throw new CliError(`'${text}' is not a valid address: ${err.message}`);
    throw err;
  }
}

export async function requireLocalDomain(store: Store, address: string): Promise<void> {
  const { domain } = splitAddress(address);
  if (!(await store.domains.has(domain))) {
    throw new CliError(`domain ${domain} is not served here; add it first: posthorn domain add ${domain}`);
  }
}

export function registerAdminCommands(program: Command): void {
  const domain = program.command('domain').description('manage the mail domains this server receives for');
  withStoreOptions(domain.command('add <name>').description('receive mail for a domain')).action(
    async (name: string, flags: StoreFlags) => {
      const d = checkDomain(name);
      await withStore(flags, async (store) => {
        if (await store.domains.has(d)) throw new CliError(`domain ${d} already exists`);
        await store.domains.add(d);
      });
      console.log(`domain ${d} added`);
    },
  );
  withStoreOptions(domain.command('list').description('list domains')).action(async (flags: StoreFlags) => {
    const list = await withStore(flags, (s) => s.domains.list());
    for (const d of list) console.log(d.name);
  });
  withStoreOptions(
    domain.command('del <name>').alias('rm').description('stop receiving mail for a domain'),
  ).action(async (name: string, flags: StoreFlags) => {
    const d = checkDomain(name);
    await withStore(flags, async (store) => {
      if (!(await store.domains.has(d))) throw new CliError(`no such domain: ${d}`);
      await store.domains.remove(d);
    });
    console.log(`domain ${d} deleted`);
  });

  const user = program.command('user').description('manage mail users');
  withStoreOptions(
    user
      .command('add <address>')
      .description('create a user (prompts for the password when neither option is given)')
      .option('--password <password>', 'the password (visible in the process list: prefer --password-stdin)')
      .option('--password-stdin', 'read the password from standard input')
      .option('--admin', 'may use the admin console'),
  ).action(
    async (
      address: string,
      flags: StoreFlags & { password?: string; passwordStdin?: boolean; admin?: boolean },
    ) => {
      const a = checkAddress(address);
      await withStore(flags, async (store) => {
        await requireLocalDomain(store, a);
        if (await store.users.get(a)) throw new CliError(`user ${a} already exists`);
        const password = await readPassword(flags);
        await store.users.add({
          address: a,
          passwordHash: await hashPassword(password),
          isAdmin: !!flags.admin,
        });
      });
      console.log(`user ${a} added`);
    },
  );
  withStoreOptions(user.command('list [domain]').description('list users')).action(
    async (d: string | undefined, flags: StoreFlags) => {
      const list = await withStore(flags, (s) => s.users.list(d ? checkDomain(d) : undefined));
      for (const u of list) console.log(u.isAdmin ? `${u.address}\tadmin` : u.address);
    },
  );
  withStoreOptions(
    user.command('del <address>').alias('rm').description('delete a user and its mail'),
  ).action(async (address: string, flags: StoreFlags) => {
    const a = checkAddress(address);
    await withStore(flags, async (store) => {
      if (!(await store.users.get(a))) throw new CliError(`no such user: ${a}`);
      await store.users.remove(a);
    });
    console.log(`user ${a} deleted`);
  });
  withStoreOptions(
    user
      .command('passwd <address>')
      .description("change a user's password")
      .option('--password <password>', 'the new password')
      .option('--password-stdin', 'read the new password from standard input'),
  ).action(async (address: string, flags: StoreFlags & { password?: string; passwordStdin?: boolean }) => {
    const a = checkAddress(address);
    await withStore(flags, async (store) => {
      if (!(await store.users.get(a))) throw new CliError(`no such user: ${a}`);
      await store.users.setPassword(a, await hashPassword(await readPassword(flags)));
    });
    console.log(`password of ${a} changed`);
  });

  const alias = program.command('alias').description('manage aliases (an address that delivers to others)');
  withStoreOptions(
    alias.command('add <alias> <targets...>').description('deliver mail for ALIAS to the targets'),
  ).action(async (aliasAddr: string, targets: string[], flags: StoreFlags) => {
    const a = checkAddress(aliasAddr);
    const ts = targets.map(checkAddress);
    await withStore(flags, async (store) => {
      await requireLocalDomain(store, a);
      if (await store.users.get(a))
        throw new CliError(`${a} is a user; an alias cannot have the same address`);
      for (const t of ts) {
        const { domain: d } = splitAddress(t);
        // Remote targets go through the outbound queue (with an SRS sender).
        if (!(await store.domains.has(d))) continue;
        if (!(await store.users.get(t)) && !(await store.aliases.get(t))) {
          throw new CliError(`${t} is neither a user nor an alias here`);
        }
      }
      await store.aliases.add(a, ts);
    });
    console.log(`alias ${a} -> ${ts.join(', ')}`);
  });
  withStoreOptions(alias.command('list [domain]').description('list aliases')).action(
    async (d: string | undefined, flags: StoreFlags) => {
      const list = await withStore(flags, (s) => s.aliases.list(d ? checkDomain(d) : undefined));
      for (const a of list) console.log(`${a.address}\t${a.targets.join(', ')}`);
    },
  );
  withStoreOptions(alias.command('del <alias>').alias('rm').description('delete an alias')).action(
    async (aliasAddr: string, flags: StoreFlags) => {
      const a = checkAddress(aliasAddr);
      await withStore(flags, async (store) => {
        if (!(await store.aliases.get(a))) throw new CliError(`no such alias: ${a}`);
        await store.aliases.remove(a);
      });
      console.log(`alias ${a} deleted`);
    },
  );
}
