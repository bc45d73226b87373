/**
 * A private Dovecot (Debian's dovecot-core + dovecot-pop3d) serving POP3 for the benchmark.
 *
 * Everything lives in a temp dir: its own config file (`dovecot -c FILE -F`, nothing from
 * /etc/dovecot), base_dir, state_dir and log; POP3 on an ephemeral 127.0.0.1 port; passwd-file
 * authentication; mail in Maildirs (`maildir:DIR/mail/%n`) written by the caller with the same
 * messages Posthorn stores, as LF-terminated files, the way a Maildir is kept on Unix (Dovecot
 * turns LF into CRLF on output). Mail is owned by uid/gid 65534 because Dovecot refuses to
 * access mail as root.
 *
 * Failure semantics: PeerUnavailable when Dovecot or its POP3 binary is missing or it does not
 * start (the log's last lines are in the message). `stop()` sends SIGTERM to the master, which
 * stops its children, and removes the temp dir.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BenchServer,
  benchTempDir,
  freePort,
  haveCommand,
  PeerUnavailable,
  run,
  spawnDaemon,
  waitForBanner,
} from './proc.js';

const MAIL_UID = 65534;
const MAIL_GID = 65534;

export interface DovecotUser {
  /** Login name, e.g. "u4k@bench.test"; its Maildir is mail/<local part>. */
  user: string;
  password: string;
}

export interface DovecotServer extends BenchServer {
  readonly port: number;
  /** The Maildir of a user (with cur/, new/, tmp/ created): write messages into cur/. */
  maildir(user: string): string;
  /** Hands the Maildirs to Dovecot's mail uid; call after writing the messages. */
  chownMail(): void;
}

function config(dir: string, port: number): string {
  return `# written by bench/peers/dovecot.ts
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = posthorn-bench-${port}
log_path = ${dir}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:${dir}/mail/%n
first_valid_uid = 100
default_login_user = dovenull
default_internal_user = dovecot
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=${MAIL_UID} gid=${MAIL_GID} home=${dir}/home/%n
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener pop3s {
    port = 0
  }
}
`;
}

/** Prepares and starts Dovecot; write the messages with `maildir()` before the first login. */
export async function startDovecot(users: DovecotUser[]): Promise<DovecotServer> {
  if (!haveCommand('dovecot'))
    throw new PeerUnavailable('dovecot is not installed (bench/peers/install-peers.sh)');
  if (!existsSync('/usr/lib/dovecot/pop3')) throw new PeerUnavailable('dovecot-pop3d is not installed');
  if (process.getuid?.() !== 0) throw new PeerUnavailable('a private Dovecot must be started as root');
  const dir = benchTempDir('dovecot');
  // mkdtemp makes 0700; Dovecot's unprivileged processes must traverse it.
  chmodSync(dir, 0o755);
  const port = await freePort();
  for (const d of ['run', 'state', 'mail', 'home']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'passwd'), users.map((u) => `${u.user}:{PLAIN}${u.password}::::::\n`).join(''));
  const maildir = (user: string) => join(dir, 'mail', user.split('@')[0]!);
  for (const u of users) {
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir(u.user), sub), { recursive: true });
    mkdirSync(join(dir, 'home', u.user.split('@')[0]!));
  }
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(conf, config(dir, port));
  const daemon = spawnDaemon('dovecot', ['-c', conf, '-F']);
  const chownMail = () =>
    run('chown', ['-R', `${MAIL_UID}:${MAIL_GID}`, join(dir, 'mail'), join(dir, 'home')]);
  chownMail();
  try {
    await daemon.alive(waitForBanner(port));
  } catch (err) {
    await daemon.stop();
    throw new PeerUnavailable(`dovecot did not start: ${(err as Error).message}\n${daemon.output()}`);
  }
  const version = run('dovecot', ['--version']).trim().split(' ')[0];
  return { name: 'Dovecot', version, pid: daemon.child.pid!, port, maildir, chownMail, stop: daemon.stop };
}
