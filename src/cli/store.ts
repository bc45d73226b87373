/**
 * `posthorn store`: the store's schema and moving an installation between stores.
 *   posthorn store migrate [--dry-run] [--store URL]   create or migrate the schema (SQLite or
 *       PostgreSQL); --dry-run prints the pending steps and changes nothing.
 *   posthorn store copy --from URL --to postgres://…   copy every domain, user, alias, mailbox,
 *       message and queue entry, keeping ids and UIDs; prints counts and manifest hashes of both
 *       sides and fails unless they match. --update refreshes an earlier copy (run it again after
 *       stopping the old node).
 * Failures are one line on stderr, exit status 1.
 */
import type { Command } from 'commander';
import { storeUrlFor } from '../config/index.js';
import { openStore, type Store, StoreError, storeSchemaStatus } from '../store/index.js';
import { copyIntoPostgres, redactUrl, type StoreCounts } from '../store/postgres/index.js';
import { CliError } from './io.js';

const show = (url: string) => (/^postgres/.test(url) ? redactUrl(url) : url);

function counts(c: StoreCounts): string {
  return `${c.domains} domains, ${c.users} users, ${c.aliases} aliases, ${c.mailboxes} mailboxes, ${c.messages} messages (${c.bytes} bytes), ${c.queueEntries} queue entries`;
}

async function open(url: string, what: string): Promise<Store> {
  try {
    return await openStore(url);
  } catch (err) {
    throw new CliError(`cannot open the ${what} store ${show(url)}: ${(err as Error).message}`);
  }
}

export function registerStoreCommands(program: Command): void {
  const store = program.command('store').description('store schema and moving mail between stores');

  store
    .command('migrate')
    .description('create or migrate the store schema')
    .option('--data <dir>', 'data directory (default ./data or $POSTHORN_DATA)')
    .option('--store <url>', 'store URL: sqlite:PATH (default, in the data dir) or postgres://...')
    .option('--dry-run', 'print what would be done and change nothing')
    .action(async (flags: { data?: string; store?: string; dryRun?: boolean }) => {
      const url = storeUrlFor(flags);
      let status: Awaited<ReturnType<typeof storeSchemaStatus>>;
      try {
        status = await storeSchemaStatus(url);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const where = `${status.kind} store ${show(url)}`;
      if (status.current > status.target)
        throw new CliError(
          `${where} has schema version ${status.current}, newer than ${status.target} known to this Posthorn; upgrade Posthorn`,
        );
      if (status.pending.length === 0) {
        console.log(`${where}: schema version ${status.current}, up to date`);
        return;
      }
      const steps = status.pending.map((d, i) => `  ${status.current + i + 1}: ${d}`).join('\n');
      if (flags.dryRun) {
        console.log(`${where}: schema version ${status.current}; would apply:\n${steps}`);
        return;
      }
      const s = await open(url, 'target');
      await s.close();
      console.log(`${where}: migrated from schema version ${status.current} to ${status.target}:\n${steps}`);
    });

  store
    .command('copy')
    .description('copy everything from one store into a PostgreSQL store, keeping ids and UIDs; verified')
    .requiredOption('--from <url>', 'source store URL (sqlite:PATH, postgres://...)')
    .requiredOption('--to <url>', 'target store URL (postgres://...)')
    .option('--update', 'bring an earlier copy up to date (after stopping the old node)')
    .action(async (flags: { from: string; to: string; update?: boolean }) => {
      if (!/^postgres(ql)?:\/\//.test(flags.to))
        throw new CliError('the copy target must be a postgres:// URL');
      if (flags.from === flags.to) throw new CliError('--from and --to name the same store');
      const source = await open(flags.from, 'source');
      let target: Store | undefined;
      try {
        target = await open(flags.to, 'target');
        const t0 = performance.now();
        const r = await copyIntoPostgres(source, target, flags.to, {
          update: flags.update,
          progress: (line) => process.stderr.write(`${line}\n`),
        });
        const secs = ((performance.now() - t0) / 1000).toFixed(1);
        console.log(
          `copied ${r.copiedMessages} messages (${r.copiedBytes} bytes), removed ${r.removedMessages}, ${r.queueEntries} queue entries, in ${secs} s`,
        );
        console.log(`source: ${counts(r.source.counts)}; manifest sha256 ${r.source.sha256}`);
        console.log(`target: ${counts(r.target.counts)}; manifest sha256 ${r.target.sha256}`);
        console.log(`bodies re-read from the target and hashed: ${r.verifiedBodies}`);
        for (const d of r.differences) console.log(`  ${d}`);
        if (r.source.sha256 !== r.target.sha256)
          throw new CliError(
            'verification FAILED: the manifests differ (was the source written to meanwhile? run again with --update)',
          );
        console.log('verified: counts and hashes match');
      } catch (err) {
        if (err instanceof StoreError) throw new CliError(err.message);
        throw err;
      } finally {
        await target?.close();
        await source.close();
      }
    });
}
