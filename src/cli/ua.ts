/**
 * The user-agent commands: account, send, fetch, inbox, read, reply, forward, delete, move,
 * search. They parse arguments, ask on the terminal when something is missing, and print; the
 * work is done in src/ua. Every failure the user can act on is a CliError (one line, status 1).
 */
import { spawnSync } from 'node:child_process';
import { constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Readable } from 'node:stream';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { ComposeError, type ComposeOptions, type ParsedMessage, parseMessage } from '../mime/index.js';
import { Pop3ClientError } from '../pop3/client/index.js';
import { SmtpClientError } from '../smtp/client/index.js';
import {
  type Account,
  AccountBook,
  accountStorage,
  checkAccountName,
  dataDir,
  fetchMail,
  forwardOptions,
  humanSize,
  INBOX,
  inboxTable,
  type Maildir,
  type MailFlag,
  type MailSource,
  matches,
  mdnOptions,
  parseEndpoint,
  parseNotify,
  pick,
  prepare,
  probeAccount,
  receiptRequestedBy,
  renderMessage,
  replyOptions,
  SendError,
  saveAttachments,
  sendComposed,
  summarize,
  UaError,
  type UaTls,
} from '../ua/index.js';
import { CliError, readPassword } from './io.js';
import { type LocalFlags, openLocalSource } from './ua-local.js';

/** Largest body read from standard input (a message, not an upload). */
const MAX_STDIN_BODY = 32 * 1024 * 1024;

interface AccountFlag {
  account?: string;
}

const book = () => new AccountBook();

function withAccount(cmd: Command): Command {
  return cmd.option('-a, --account <name>', 'the account to use (default: the default account)');
}

function collect(value: string, prev: string[] = []): string[] {
  return [
    ...prev,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

/** Runs an action, turning every failure the user can act on into a one-line CliError. */
function act<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof CliError) throw err;
      if (err instanceof UaError || err instanceof SendError || err instanceof ComposeError) {
        throw new CliError(err.message);
      }
      if (err instanceof RangeError) throw new CliError(err.message);
      if (err instanceof Pop3ClientError) throw new CliError(`POP3 ${err.message}`);
      if (err instanceof SmtpClientError) throw new CliError(`SMTP ${err.stage}: ${err.message}`);
      const code = (err as NodeJS.ErrnoException).code;
      if (code && /^E[A-Z]+$/.test(code)) throw new CliError((err as Error).message);
      throw err;
    }
  };
}

async function ask(question: string, fallback?: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const a = (await rl.question(fallback ? `${question} [${fallback}]: ` : `${question}: `)).trim();
    return a || fallback || '';
  } finally {
    rl.close();
  }
}

/** A value from its flag, else asked on a terminal, else an error naming the flag. */
async function need(value: string | undefined, flag: string, question: string, fallback?: string) {
  if (value) return value;
  if (process.stdin.isTTY) {
    const a = await ask(question, fallback);
    if (a) return a;
  } else if (fallback) return fallback;
  throw new CliError(`missing ${flag}`);
}

interface AddFlags {
  address?: string;
  name?: string;
  smtp?: string;
  pop3?: string;
  tls?: string;
  user?: string;
  passwordCommand?: string;
  passwordEnv?: string;
  passwordStdin?: boolean;
  tlsVerify: boolean;
  smtpAuth: boolean;
  default?: boolean;
}

async function accountAdd(name: string, f: AddFlags): Promise<void> {
  checkAccountName(name);
  const address = await need(f.address, '--address', 'E-mail address');
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const tlsText = await need(f.tls, '--tls', 'TLS (starttls, implicit, none)', 'starttls');
  if (!['starttls', 'implicit', 'none'].includes(tlsText))
    throw new CliError(`--tls: '${tlsText}' is not starttls, implicit or none`);
  const tls = tlsText as UaTls;
  const smtp = parseEndpoint(
    await need(f.smtp, '--smtp', 'SMTP submission server HOST:PORT', `smtp.${domain}`),
    'smtp',
    tls,
  );
  const pop3 = parseEndpoint(
    await need(f.pop3, '--pop3', 'POP3 server HOST:PORT', `pop.${domain}`),
    'pop3',
    tls,
  );
  const user =
    f.user ?? (process.stdin.isTTY && !f.passwordStdin ? await ask('Login name', address) : address);
  const account: Account = {
    name,
    address,
    fullName: f.name,
    smtp,
    pop3,
    tls,
    tlsVerify: f.tlsVerify,
    user,
    passwordCommand: f.passwordCommand,
    passwordEnv: f.passwordEnv,
    smtpAuth: f.smtpAuth ? undefined : false,
  };
  const password =
    f.passwordCommand || f.passwordEnv ? undefined : await readPassword({ passwordStdin: f.passwordStdin });
  const b = book();
  await b.add(account, password);
  if (f.default) await b.setDefault(name);
  console.log(
    `account ${name} added (${address}; smtp ${smtp.host}:${smtp.port}, pop3 ${pop3.host}:${pop3.port}, tls ${tls})`,
  );
}

async function accountList(): Promise<void> {
  const b = book();
  const { accounts, defaultName } = await b.list();
  if (!accounts.length) return void console.log('no accounts (add one with: posthorn account add NAME)');
  for (const a of accounts) {
    const mark = a.name === defaultName ? '*' : ' ';
    console.log(
      `${mark} ${a.name}  ${a.address}  smtp ${a.smtp.host}:${a.smtp.port}  pop3 ${a.pop3.host}:${a.pop3.port}  tls ${a.tls}  user ${a.user}  password ${await b.passwordSource(a)}`,
    );
  }
}

async function accountTest(name: string | undefined, f: AccountFlag): Promise<void> {
  const b = book();
  const a = await b.get(name ?? f.account);
  const results = await probeAccount(a, await b.password(a));
  for (const r of results) {
    if (!r.ok) {
      console.log(`${r.server} ${r.endpoint}: FAILED: ${r.error}`);
      continue;
    }
    console.log(`${r.server} ${r.endpoint}: ok, ${r.tls ? 'TLS' : 'no TLS'}, logged in as ${a.user}`);
    console.log(`  ${r.greeting}`);
    console.log(`  ${r.server === 'smtp' ? 'EHLO' : 'CAPA'}: ${r.capabilities?.join(', ')}`);
    if (r.maildrop)
      console.log(`  ${r.maildrop.count} messages, ${humanSize(r.maildrop.size)} on the server`);
  }
  const failed = results.filter((r) => !r.ok).length;
  if (failed) throw new CliError(`account ${a.name}: ${failed} of 2 servers failed`);
}

async function readStdinText(): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    size += (c as Buffer).length;
    if (size > MAX_STDIN_BODY)
      throw new CliError(`the message on standard input is over ${MAX_STDIN_BODY} bytes`);
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

function editBody(initial: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-edit-'));
  const file = join(dir, 'message.txt');
  try {
    writeFileSync(file, initial, { mode: 0o600 });
    const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
    const r = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'editor', file], { stdio: 'inherit' });
    if (r.status !== 0) throw new CliError(`the editor (${editor}) failed; nothing sent`);
    const text = readFileSync(file, 'utf8');
    if (!text.trim()) throw new CliError('empty message; nothing sent');
    return text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface BodyFlags {
  message?: string;
  bodyFile?: string;
}

/** -m, else --body-file, else standard input when piped, else $EDITOR on a terminal. */
async function bodyOf(f: BodyFlags): Promise<string> {
  if (f.message !== undefined) return f.message;
  if (f.bodyFile) return readFile(f.bodyFile, 'utf8');
  if (!process.stdin.isTTY) return readStdinText();
  return editBody('');
}

interface SendFlags extends AccountFlag, BodyFlags {
  to?: string[];
  cc?: string[];
  bcc?: string[];
  subject?: string;
  htmlFile?: string;
  attach?: string[];
  notify?: string[];
  receipt?: boolean;
  dryRun?: boolean;
}

/** Composes and sends (or prints, on --dry-run); the Sent copy is written by submit. */
async function deliver(
  account: Account,
  opts: ComposeOptions,
  f: SendFlags,
  bcc: string[] = [],
): Promise<void> {
  const out = { bcc, receipt: f.receipt };
  const notify = parseNotify(f.notify);
  if (f.dryRun) {
    for await (const chunk of prepare(account, opts, out).message()) process.stdout.write(chunk as Buffer);
    return;
  }
  const password = account.smtpAuth === false ? '' : await book().password(account);
  const { maildir } = accountStorage(dataDir(), account.name);
  const r = await sendComposed(account, password, opts, { ...out, notify, sent: maildir });
  for (const x of r.refused) process.stderr.write(`posthorn: ${x.address}: refused: ${x.reply}\n`);
  console.log(`sent to ${r.delivered.join(', ')} (${r.reply}); copy in Sent`);
  if (r.refused.length) throw new CliError(`${r.refused.length} recipient(s) refused, see above`);
}

async function send(f: SendFlags): Promise<void> {
  const account = await book().get(f.account);
  if (!f.to?.length && !f.cc?.length && !f.bcc?.length)
    throw new CliError('give at least one --to, --cc or --bcc');
  const subject = f.subject ?? (process.stdin.isTTY ? await ask('Subject') : undefined);
  if (subject === undefined) throw new CliError('missing --subject');
  const text = await bodyOf(f);
  const html = f.htmlFile ? await readFile(f.htmlFile, 'utf8') : undefined;
  for (const p of f.attach ?? []) {
    await access(p, constants.R_OK).catch(() => {
      throw new CliError(`cannot read attachment ${p}`);
    });
  }
  await deliver(
    account,
    {
      from: account.fullName ? { name: account.fullName, address: account.address } : account.address,
      to: f.to?.length ? f.to : undefined,
      cc: f.cc?.length ? f.cc : undefined,
      subject,
      text,
      html,
      attachments: (f.attach ?? []).map((path) => ({ path })),
    },
    f,
    f.bcc ?? [],
  );
}

interface FetchFlags extends AccountFlag {
  keep?: boolean;
  all?: boolean;
}

async function fetch(f: FetchFlags): Promise<void> {
  const b = book();
  const account = await b.get(f.account);
  const password = await b.password(account);
  const crash = process.env.POSTHORN_UA_TEST_CRASH_AFTER;
  let bar: SingleBar | undefined;
  const r = await fetchMail(account, password, accountStorage(dataDir(), account.name), {
    keep: f.keep,
    all: f.all,
    crashAfter: crash ? Number(crash) : undefined,
    progress: {
      start(count) {
        // A progress bar is for people watching a terminal; logs and pipes get the summary only.
        if (!process.stderr.isTTY || count === 0) return;
        bar = new SingleBar({
          format: 'fetching [{bar}] {value}/{total} messages, {octets}',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        });
        bar.start(count, 0, { octets: '0' });
      },
      stored(i, octets) {
        bar?.update(i, { octets: humanSize(octets) });
      },
    },
  }).finally(() => bar?.stop());
  const where = `${account.pop3.host}:${account.pop3.port}`;
  console.log(
    `fetched ${r.fetched} message${r.fetched === 1 ? '' : 's'} (${humanSize(r.octets)}) from ${where}; ` +
      `${r.skipped} already fetched; ${r.deleted} deleted on the server; ${r.total - r.deleted} left there`,
  );
}

interface ReadFlags extends AccountFlag, LocalFlags {
  folder?: string;
}

/** The mailbox to read: the account's Maildir, or with --local the server's store. */
async function openSource(
  f: ReadFlags,
): Promise<{ source: MailSource; maildir?: Maildir; account?: Account; close(): Promise<void> }> {
  if (f.local) {
    const l = await openLocalSource(f);
    return { source: l.source, close: l.close };
  }
  const account = await book().get(f.account);
  const { maildir } = accountStorage(dataDir(), account.name);
  return { source: maildir, maildir, account, close: async () => {} };
}

function number(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`'${text}' is not a message number`);
  return n;
}

async function loadMessage(source: MailSource, folder: string, n: number) {
  const entry = pick(await source.list(folder), n, folder);
  const msg = await parseMessage(source.read(folder, entry.id));
  return { entry, msg };
}

function terminalWidth(): number {
  return process.stdout.isTTY ? process.stdout.columns || 80 : 100;
}

async function inbox(f: ReadFlags & { unread?: boolean }): Promise<void> {
  const s = await openSource(f);
  try {
    const folder = f.folder ?? INBOX;
    let rows = await summarize(s.source, folder);
    if (f.unread) rows = rows.filter((r) => !r.entry.flags.includes('\\Seen'));
    if (!rows.length) return void console.log(`${folder}: no ${f.unread ? 'unread ' : ''}messages`);
    process.stdout.write(inboxTable(rows, terminalWidth()));
  } finally {
    await s.close();
  }
}

async function addFlag(
  source: MailSource,
  folder: string,
  entry: { id: string; flags: MailFlag[] },
  flag: MailFlag,
) {
  if (!entry.flags.includes(flag)) await source.setFlags(folder, entry.id, [...entry.flags, flag]);
}

async function read(
  n: string,
  f: ReadFlags & { raw?: boolean; headers?: boolean; saveAttachments?: string; sendReceipt?: boolean },
) {
  const s = await openSource(f);
  try {
    const folder = f.folder ?? INBOX;
    const entry = pick(await s.source.list(folder), number(n), folder);
    if (f.raw) {
      for await (const chunk of s.source.read(folder, entry.id)) process.stdout.write(chunk);
    } else {
      const msg = await parseMessage(s.source.read(folder, entry.id));
      process.stdout.write(renderMessage(msg, { allHeaders: f.headers }));
      if (f.saveAttachments) {
        for (const a of await saveAttachments(msg, f.saveAttachments))
          console.log(`saved ${a.path} (${a.size} bytes)`);
      }
      await receipt(msg, entry.flags.includes('\\Seen'), n, f, s.account);
    }
    await addFlag(s.source, folder, entry, '\\Seen');
  } finally {
    await s.close();
  }
}

/** RFC 8098 §2.1: a receipt only with the user's consent, once (not for a message already seen). */
async function receipt(
  msg: ParsedMessage,
  seen: boolean,
  n: string,
  f: ReadFlags & { sendReceipt?: boolean },
  account?: Account,
) {
  const to = receiptRequestedBy(msg);
  if (!to.length || !account) return;
  let yes = f.sendReceipt === true;
  if (!yes && seen) return;
  if (!yes && process.stdin.isTTY && process.stdout.isTTY) {
    yes = /^y/i.test(
      await ask(`The sender asks for a read receipt. Send one to ${to.join(', ')}? (y/N)`, 'n'),
    );
  } else if (!yes) {
    process.stderr.write(
      `posthorn: the sender asks for a read receipt; send it with: posthorn read ${n} --send-receipt\n`,
    );
    return;
  }
  if (yes) await deliver(account, mdnOptions(msg, account, to), {});
}

async function reply(n: string, f: ReadFlags & SendFlags & { all?: boolean }): Promise<void> {
  const s = await openSource(f);
  const account = s.account!;
  const folder = f.folder ?? INBOX;
  const { entry, msg } = await loadMessage(s.source, folder, number(n));
  const text = await bodyOf(f);
  await deliver(account, replyOptions(msg, account, { all: f.all, text }), f);
  if (!f.dryRun) await addFlag(s.source, folder, entry, '\\Answered');
}

async function forward(n: string, f: ReadFlags & SendFlags & { asAttachment?: boolean }): Promise<void> {
  if (!f.to?.length) throw new CliError('forward needs --to');
  const s = await openSource(f);
  const account = s.account!;
  const folder = f.folder ?? INBOX;
  const { entry, msg } = await loadMessage(s.source, folder, number(n));
  const text = await bodyOf(f);
  const raw = () => Readable.from(s.source.read(folder, entry.id));
  await deliver(
    account,
    forwardOptions(msg, account, { to: f.to, cc: f.cc, text, asAttachment: f.asAttachment, raw }),
    f,
    f.bcc,
  );
  if (!f.dryRun) await addFlag(s.source, folder, entry, '$Forwarded');
}

async function removeOrMove(n: string, to: string | undefined, f: ReadFlags): Promise<void> {
  const s = await openSource(f);
  const folder = f.folder ?? INBOX;
  const entry = pick(await s.maildir!.list(folder), number(n), folder);
  if (to === undefined) {
    await s.maildir!.remove(folder, entry.id);
    console.log(`deleted message ${n} from ${folder}`);
  } else {
    await s.maildir!.move(folder, entry.id, to);
    console.log(`moved message ${n} from ${folder} to ${to}`);
  }
}

async function search(query: string, f: ReadFlags): Promise<void> {
  const s = await openSource(f);
  try {
    const folder = f.folder ?? INBOX;
    const rows = (await summarize(s.source, folder)).filter((r) => matches(r, query));
    if (!rows.length) return void console.log(`${folder}: nothing matches '${query}'`);
    process.stdout.write(inboxTable(rows, terminalWidth()));
  } finally {
    await s.close();
  }
}

function composeOptions(cmd: Command): Command {
  return cmd
    .option('-m, --message <text>', 'the body text')
    .option('--body-file <file>', 'read the body from a file')
    .option('--notify <list>', 'delivery status notifications: success,failure,delay or never', collect)
    .option('--receipt', 'ask for a read receipt (Disposition-Notification-To)')
    .option('--dry-run', 'print the message instead of sending it');
}

function localOptions(cmd: Command): Command {
  return cmd
    .option('--local <address>', "on the server host: read this user's mailbox from the store")
    .option('--data <dir>', 'with --local: the server data directory')
    .option('--store <url>', 'with --local: the store URL');
}

export function registerUaCommands(program: Command): void {
  const account = program.command('account').description('mail accounts of the user agent');
  account
    .command('add <name>')
    .description('add (or replace) an account; asks for what is missing')
    .option('--address <address>', 'your e-mail address')
    .option('--name <full-name>', 'your name, shown in From')
    .option('--smtp <host:port>', 'the submission server (default port 587, 465 with --tls implicit)')
    .option('--pop3 <host:port>', 'the POP3 server (default port 110, 995 with --tls implicit)')
    .option('--tls <mode>', 'starttls (default), implicit or none')
    .option('--user <login>', 'login name (default: the address)')
    .option('--password-command <cmd>', 'a command that prints the password')
    .option('--password-env <var>', 'an environment variable holding the password')
    .option('--password-stdin', 'read the password from standard input')
    .option('--no-tls-verify', 'accept any certificate (test servers only)')
    .option('--no-smtp-auth', 'send without logging in (a relay that trusts your network)')
    .option('--default', 'make it the default account')
    .action(act(accountAdd));
  account.command('list').description('list the accounts (* marks the default)').action(act(accountList));
  account
    .command('del <name>')
    .alias('delete')
    .description('forget an account and its stored password (downloaded mail is kept)')
    .action(
      act(async (name: string) => {
        await book().remove(name);
        console.log(`account ${name} deleted`);
      }),
    );
  withAccount(account.command('test [name]'))
    .description('connect to both servers, log in, and show what they offer')
    .action(act(accountTest));
  account
    .command('default <name>')
    .description('make an account the default')
    .action(
      act(async (name: string) => {
        await book().setDefault(name);
        console.log(`default account: ${name}`);
      }),
    );

  composeOptions(withAccount(program.command('send')))
    .description('compose and send a message; a copy goes to the Sent folder')
    .option('--to <address>', 'recipient (repeat or separate with commas)', collect)
    .option('--cc <address>', 'copy recipient', collect)
    .option('--bcc <address>', 'blind copy recipient (not shown in the message)', collect)
    .option('-s, --subject <subject>', 'the subject')
    .option('--html-file <file>', 'an HTML version of the body')
    .option('--attach <file>', 'attach a file (repeat for more)', (v: string, p: string[] = []) => [...p, v])
    .action(act(send));

  withAccount(program.command('fetch'))
    .description('download new messages over POP3 into the local mailbox')
    .option('--keep', 'leave the messages on the server')
    .option('--all', 'download messages fetched before, too')
    .action(act(fetch));

  localOptions(withAccount(program.command('inbox')))
    .description('list the messages of a folder')
    .option('--folder <name>', 'the folder (default INBOX)')
    .option('--unread', 'only unread messages')
    .action(act(inbox));

  localOptions(withAccount(program.command('read <n>')))
    .description('show message N (and mark it read)')
    .option('--folder <name>', 'the folder (default INBOX)')
    .option('--raw', 'the message exactly as stored')
    .option('--headers', 'every header field')
    .option('--save-attachments <dir>', 'save the attachments into DIR')
    .option('--send-receipt', 'send the read receipt the sender asked for')
    .action(act(read));

  composeOptions(withAccount(program.command('reply <n>')))
    .description('reply to message N')
    .option('--all', 'reply to all recipients')
    .option('--folder <name>', 'the folder (default INBOX)')
    .action(act(reply));

  composeOptions(withAccount(program.command('forward <n>')))
    .description('forward message N')
    .option('--to <address>', 'recipient', collect)
    .option('--cc <address>', 'copy recipient', collect)
    .option('--bcc <address>', 'blind copy recipient', collect)
    .option('--as-attachment', 'attach the original message whole')
    .option('--folder <name>', 'the folder (default INBOX)')
    .action(act(forward));

  withAccount(program.command('delete <n>'))
    .description('delete message N from the local mailbox')
    .option('--folder <name>', 'the folder (default INBOX)')
    .action(act((n: string, f: ReadFlags) => removeOrMove(n, undefined, f)));

  withAccount(program.command('move <n> <folder>'))
    .description('move message N to another folder')
    .option('--folder <name>', 'the folder it is in (default INBOX)')
    .action(act((n: string, to: string, f: ReadFlags) => removeOrMove(n, to, f)));

  withAccount(program.command('search <query>'))
    .description('find messages: words, or from:X to:X subject:X body:X (all must match)')
    .option('--folder <name>', 'the folder (default INBOX)')
    .action(act(search));
}
