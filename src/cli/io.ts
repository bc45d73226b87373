/** Terminal I/O shared by commands: the one-line error type and password input. */
import { createInterface } from 'node:readline';

/** An error the user caused: printed as one line, exit status 1, no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    size += (c as Buffer).length;
    if (size > 4096) throw new CliError('password on standard input is longer than 4096 bytes');
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks on the terminal without echoing what is typed. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stderr.write(question);
    out._writeToOutput = () => {};
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

export async function readPassword(flags: { password?: string; passwordStdin?: boolean }): Promise<string> {
  let pw: string;
  if (flags.password !== undefined) pw = flags.password;
  else if (flags.passwordStdin) pw = await readStdin();
  else if (process.stdin.isTTY) {
    pw = await prompt('Password: ');
    const again = await prompt('Again: ');
    if (pw !== again) throw new CliError('the passwords do not match');
  } else throw new CliError('no password: give --password, --password-stdin, or run on a terminal');
  if (pw.length === 0) throw new CliError('the password is empty');
  if (/[\r\n\0]/.test(pw)) throw new CliError('the password contains a line break or NUL');
  return pw;
}
