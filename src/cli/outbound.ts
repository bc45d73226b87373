/**
 * Commands for outbound mail: `posthorn queue list|show ID|retry [ID]|delete ID`, `posthorn domain
 * dkim NAME` (creates the domain's DKIM key, prints the TXT record) and `posthorn user forward
 * ADDRESS TARGET... [--keep]` / `--off`. They open the store themselves like the other admin
 * commands, so they work while the server runs: a `retry` is picked up at the runner's next poll.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatDate } from '../mime/index.js';
import { dkimTxtRecord, ensureDkimKey, isValidDkimSelector } from '../mta/outbound/index.js';
import type { QueueEntry } from '../store/types.js';
import {
  checkAddress,
  checkDomain,
  requireLocalDomain,
  type StoreFlags,
  withStore,
  withStoreOptions,
} from './admin.js';
import { CliError } from './io.js';

const when = (d: Date | undefined) => (d ? formatDate(d) : '-');

function summary(e: QueueEntry): string {
  const pending = e.recipients.filter((r) => r.state === 'pending');
  const first = pending[0] ?? e.recipients[0]!;
  const more = e.recipients.length > 1 ? ` (+${e.recipients.length - 1})` : '';
  const reason = first.last ? `  ${first.last.status} ${first.last.diagnostic.slice(0, 80)}` : '';
  return `${e.id}\t${e.size}\t${when(e.nextAttemptAt)}\t<${e.mailFrom}>\t${first.address}${more}${reason}`;
}

function findCommand(program: Command, name: string): Command {
  const c = program.commands.find((x) => x.name() === name);
  if (!c) throw new Error(`command ${name} is not registered`);
  return c;
}

export function registerOutboundCommands(program: Command): void {
  const queue = program.command('queue').description('see and steer the outbound queue');
  withStoreOptions(
    queue
      .command('list')
      .alias('ls')
      .description('queued messages: id, size, next attempt, sender, recipients')
      .option('--json', 'one JSON object per line'),
  ).action(async (flags: StoreFlags & { json?: boolean }) => {
    const list = await withStore(flags, (s) => s.queue.list());
    for (const e of list) console.log(flags.json ? JSON.stringify(e) : summary(e));
    if (!flags.json) console.log(`${list.length} queued message${list.length === 1 ? '' : 's'}`);
  });
  withStoreOptions(
    queue.command('show <id>').description('one queued message: envelope and every recipient'),
  ).action(async (id: string, flags: StoreFlags) => {
    const e = await withStore(flags, (s) => s.queue.get(id));
    if (!e) throw new CliError(`no such queue entry: ${id}`);
    const lines = [
      `id:           ${e.id}`,
      `from:         <${e.mailFrom}>`,
      `size:         ${e.size}`,
      `queued:       ${when(e.createdAt)}`,
      `expires:      ${when(e.expiresAt)}`,
      `next attempt: ${when(e.nextAttemptAt)}`,
      `body:         ${e.body8bit ? '8bit' : '7bit'}${e.smtputf8 ? ', SMTPUTF8' : ''}${e.ret ? `, RET=${e.ret}` : ''}${e.envid ? `, ENVID=${e.envid}` : ''}`,
      `lease:        ${e.leaseOwner ? `${e.leaseOwner} until ${when(e.leaseUntil)}` : '-'}`,
      'recipients:',
    ];
    for (const r of e.recipients) {
      lines.push(
        `  ${r.address}  ${r.state}, ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}` +
          (r.state === 'pending' ? `, next ${when(r.nextAttemptAt)}` : '') +
          (r.last
            ? `\n    ${r.last.status} ${r.last.remoteMta ? `(${r.last.remoteMta}) ` : ''}${r.last.diagnostic}`
            : ''),
      );
    }
    console.log(lines.join('\n'));
  });
  withStoreOptions(
    queue.command('retry [id]').description('try one queued message (or all) again now'),
  ).action(async (id: string | undefined, flags: StoreFlags) => {
    const n = await withStore(flags, (s) => s.queue.retry(id));
    console.log(`${n} queued message${n === 1 ? '' : 's'} due now`);
  });
  withStoreOptions(
    queue.command('delete <id>').alias('rm').description('drop a queued message without notice'),
  ).action(async (id: string, flags: StoreFlags) => {
    await withStore(flags, (s) => s.queue.remove(id));
    console.log(`queue entry ${id} deleted`);
  });

  withStoreOptions(
    findCommand(program, 'domain')
      .command('dkim <name>')
      .description('create the DKIM signing key of a domain (kept in the data dir) and print its DNS record')
      .option('--selector <s>', 'DKIM selector for a new key', 'posthorn')
      .option('--rotate', 'replace an existing key'),
  ).action(async (name: string, flags: StoreFlags & { selector: string; rotate?: boolean }) => {
    const d = checkDomain(name);
    if (!isValidDkimSelector(flags.selector))
      throw new CliError(`'${flags.selector}' is not a valid selector`);
    await withStore(flags, async (store) => {
      if (!(await store.domains.has(d))) throw new CliError(`no such domain: ${d}`);
    });
    const dataDir = resolve(flags.data || process.env.POSTHORN_DATA || 'data');
    const { key, created } = await ensureDkimKey(dataDir, d, {
      selector: flags.selector,
      rotate: !!flags.rotate,
    });
    const rec = dkimTxtRecord(key);
    console.log(
      created
        ? `DKIM key for ${d} created (selector ${key.selector})`
        : `DKIM key for ${d} exists (selector ${key.selector})`,
    );
    console.log('Publish this TXT record:');
    console.log(rec.zone);
  });

  withStoreOptions(
    findCommand(program, 'user')
      .command('forward <address> [targets...]')
      .description(
        "forward a user's mail to other addresses (remote ones through the queue, sender rewritten by SRS)",
      )
      .option('--keep', 'keep a copy in the mailbox too')
      .option('--off', 'stop forwarding'),
  ).action(
    async (address: string, targets: string[], flags: StoreFlags & { keep?: boolean; off?: boolean }) => {
      const a = checkAddress(address);
      if (!flags.off && targets.length === 0) throw new CliError('give at least one target, or --off');
      const ts = targets.map(checkAddress);
      await withStore(flags, async (store) => {
        await requireLocalDomain(store, a);
        if (!(await store.users.get(a))) throw new CliError(`no such user: ${a}`);
        await store.users.setForward(a, flags.off ? undefined : { targets: ts, keep: !!flags.keep });
      });
      console.log(
        flags.off ? `${a}: forwarding off` : `${a} -> ${ts.join(', ')}${flags.keep ? ' (copy kept)' : ''}`,
      );
    },
  );
}
