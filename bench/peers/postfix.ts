/**
 * A private Postfix instance for the SMTP benchmark, and Postfix's smtp-sink (an SMTP server that
 * stores nothing, the ceiling of what the load generator can push).
 *
 * The instance has its own config_directory, queue_directory and data_directory in a temp dir
 * and listens on an ephemeral 127.0.0.1 port; it never touches /etc/postfix or port 25.
 * Mail for bench.test is accepted into Postfix's queue (the queue file is fsync'd by cleanup(8)
 * before smtpd answers 250, Postfix's durability promise) and then delivered by virtual(8) into a
 * Maildir (one file per message, fsync'd). `delivered()` counts the Maildir files so the
 * benchmark can wait for the queue to drain between runs.
 *
 * Failure semantics: throws PeerUnavailable when Postfix is not installed or not running as root
 * (Postfix drops to its mail_owner); `stop()` runs `postfix stop` and removes the temp dir.
 */
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BenchServer,
  benchTempDir,
  freePort,
  haveCommand,
  onCleanup,
  PeerUnavailable,
  run,
  sleep,
  spawnDaemon,
  waitForBanner,
} from './proc.js';

/** uid/gid that owns the Maildir tree (Debian's "nobody"); virtual(8) refuses uid 0. */
const MAIL_UID = 65534;
const MAIL_GID = 65534;

export interface PostfixServer extends BenchServer {
  readonly port: number;
  /** Messages delivered into the Maildir so far. */
  delivered(): number;
}

function masterCf(port: number): string {
  // Only the services a local delivery needs, none chrooted (the chroot would need copies of
  // /etc files inside the temp queue directory).
  const svc = [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'local unix - n n - - local',
    'virtual unix - n n - - virtual',
    'smtp unix - - n - - smtp',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
  ];
  return `${svc.join('\n')}\n`;
}

function mainCf(dir: string): string {
  return [
    'compatibility_level = 3.6',
    `queue_directory = ${dir}/queue`,
    `data_directory = ${dir}/data`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'myhostname = mx.bench.test',
    'mydomain = bench.test',
    'myorigin = $mydomain',
    'mydestination =',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    'smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination',
    // No reverse DNS: Posthorn and Haraka do not look the client up either in these runs.
    'smtpd_peername_lookup = no',
    'alias_maps =',
    'alias_database =',
    'local_recipient_maps =',
    'biff = no',
    'append_dot_mydomain = no',
    'virtual_mailbox_domains = bench.test',
    `virtual_mailbox_base = ${dir}/mail`,
    `virtual_mailbox_maps = texthash:${dir}/etc/vmailbox`,
    `virtual_uid_maps = static:${MAIL_UID}`,
    `virtual_gid_maps = static:${MAIL_GID}`,
    'virtual_minimum_uid = 100',
    'virtual_destination_concurrency_limit = 20',
    `maillog_file_prefixes = ${dir}`,
    `maillog_file = ${dir}/maillog`,
    'smtputf8_enable = no',
    '',
  ].join('\n');
}

/** Starts a private Postfix delivering bench.test mail to Maildirs under its temp dir. */
export async function startPostfix(): Promise<PostfixServer> {
  if (!haveCommand('postfix'))
    throw new PeerUnavailable('postfix is not installed (bench/peers/install-peers.sh)');
  if (process.getuid?.() !== 0)
    throw new PeerUnavailable('a private Postfix instance must be started as root');
  const dir = benchTempDir('postfix');
  const port = await freePort();
  // mkdtemp makes the dir 0700; Postfix's daemons (user postfix) and virtual(8) (uid nobody)
  // must be able to traverse it.
  chmodSync(dir, 0o755);
  for (const d of ['etc', 'queue', 'data']) mkdirSync(join(dir, d));
  mkdirSync(join(dir, 'mail'));
  run('chown', [`${MAIL_UID}:${MAIL_GID}`, join(dir, 'mail')]);
  run('chown', ['postfix', join(dir, 'data')]);
  writeFileSync(join(dir, 'etc', 'main.cf'), mainCf(dir));
  writeFileSync(join(dir, 'etc', 'master.cf'), masterCf(port));
  writeFileSync(join(dir, 'etc', 'vmailbox'), 'u@bench.test bench.test/u/\n');
  const etc = join(dir, 'etc');
  // Creates the queue subdirectories with Postfix's own ownership rules.
  run('postfix', ['-c', etc, 'set-permissions'], { env: { ...process.env, MAIL_CONFIG: etc } });
  run('postfix', ['-c', etc, 'check']);
  const daemon = spawnDaemon('postfix', ['-c', etc, 'start-fg'], { killAfterMs: 15_000 });
  try {
    await daemon.alive(waitForBanner(port));
  } catch (err) {
    await daemon.stop();
    throw new PeerUnavailable(`postfix did not start: ${(err as Error).message}\n${daemon.output()}`);
  }
  const maildirNew = join(dir, 'mail', 'bench.test', 'u', 'new');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      run('postfix', ['-c', etc, 'stop']);
    } catch {
      // The master also stops on SIGTERM, sent below to it and the wrapper.
    }
    await Promise.race([daemon.stop(), sleep(20_000)]);
    unregister();
  };
  // cleanupAll() must run `postfix stop` too, not only signal the wrapper process.
  const unregister = onCleanup(stop);
  return {
    name: 'Postfix',
    version: postfixVersion(),
    pid: daemon.child.pid!,
    port,
    delivered() {
      try {
        return readdirSync(maildirNew).length;
      } catch {
        return 0;
      }
    },
    stop,
  };
}

/** Starts smtp-sink on an ephemeral port: it answers every command positively and stores nothing. */
export async function startSmtpSink(): Promise<BenchServer & { port: number }> {
  if (!haveCommand('smtp-sink')) throw new PeerUnavailable('smtp-sink is not installed (package postfix)');
  const port = await freePort();
  // -u: smtp-sink refuses to keep root privileges; a listen backlog of 1024 so 100 concurrent
  // connects are not refused.
  const args = [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '1024'];
  const daemon = spawnDaemon('smtp-sink', args);
  try {
    await daemon.alive(waitForBanner(port));
  } catch (err) {
    await daemon.stop();
    throw new PeerUnavailable(`smtp-sink did not start: ${(err as Error).message}\n${daemon.output()}`);
  }
  return { name: 'smtp-sink', version: postfixVersion(), pid: daemon.child.pid!, port, stop: daemon.stop };
}

function postfixVersion(): string {
  try {
    return run('postconf', ['-d', '-h', 'mail_version']).trim();
  } catch {
    return '?';
  }
}
