/**
 * Literal protocol conversations, written the way RFC examples are:
 *
 *   S: 220 *
 *   C: EHLO client.example
 *   S: 250-*
 *   S: 250 SMTPUTF8
 *
 * - `C: text`  sends `text` + CRLF. Consecutive C: lines go out in one write (pipelining).
 * - `C~ text`  sends `text` raw after unescaping \r \n \t \0 \\ and \xHH (no CRLF added).
 * - `S: pat`   reads one line (CRLF stripped) and matches `pat`; `*` matches any run of characters.
 * - `S~ pat`   like S: but `pat` is a regular expression.
 * - `S* pat`   reads a whole multi-line reply (`250-…` lines) and matches its last line to `pat`.
 * - `S: <closed>` expects the server to close the connection.
 * - Blank lines and lines starting with `#` are ignored.
 * Mismatches throw an AssertionError listing the conversation so far.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

export function unescapeScript(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
    if (e[0] === 'x' && e.length === 3) return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    return ({ r: '\r', n: '\n', t: '\t', '0': '\0', '\\': '\\' } as Record<string, string>)[e] ?? e;
  });
}

function globToRegExp(glob: string): RegExp {
  const body = glob.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${body.join('.*')}$`, 's');
}

/** A line-oriented client over a socket, for transcripts and hand-written protocol tests. */
export class LineClient {
  private buf = Buffer.alloc(0);
  private lines: string[] = [];
  private waiter: (() => void) | undefined;
  closed = false;
  readonly log: string[] = [];

  constructor(public socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      let i: number;
      while ((i = this.buf.indexOf(0x0a)) >= 0) {
        let line = this.buf.subarray(0, i);
        if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
        this.lines.push(line.toString('latin1'));
        this.buf = this.buf.subarray(i + 1);
      }
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  static connectTls(port: number, host = '127.0.0.1'): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ port, host, rejectUnauthorized: false }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  /** Upgrades the connection to TLS in place (after STARTTLS/STLS was answered). */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secured = await new Promise<TLSSocket>((resolve, reject) => {
      const t = tlsConnect({ socket: plain, rejectUnauthorized: false }, () => resolve(t));
      t.once('error', reject);
    });
    this.socket = secured;
    this.attach(secured);
  }

  write(data: string | Buffer): void {
    this.log.push(`C: ${typeof data === 'string' ? JSON.stringify(data) : `<${data.length} bytes>`}`);
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  send(line: string): void {
    this.write(`${line}\r\n`);
  }

  /** Next line from the server, or undefined once it has closed. */
  async readLine(timeoutMs = 5000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a line\n${this.log.join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    const line = this.lines.shift()!;
    this.log.push(`S: ${line}`);
    return line;
  }

  /** Reads a whole SMTP reply (continuation lines `250-`), returns its lines. */
  async readReply(timeoutMs = 5000): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.readLine(timeoutMs);
      if (l === undefined) throw new Error(`connection closed mid-reply\n${this.log.join('\n')}`);
      out.push(l);
      if (!/^\d{3}-/.test(l)) return out;
    }
  }

  /** Waits until the server closes the connection. */
  async expectClosed(timeoutMs = 5000): Promise<void> {
    const l = await this.readLine(timeoutMs);
    if (l !== undefined) throw new Error(`expected close, got ${JSON.stringify(l)}\n${this.log.join('\n')}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Plays a transcript against a connected client; returns the lines the server sent. */
export async function play(client: LineClient, script: string, timeoutMs = 5000): Promise<string[]> {
  const got: string[] = [];
  const pending: string[] = [];
  const flush = () => {
    if (pending.length) client.write(pending.splice(0).join(''));
  };
  for (const raw of script.split('\n')) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const tag = line.slice(0, 2);
    const rest = line.slice(3);
    if (tag === 'C:') pending.push(`${rest}\r\n`);
    else if (tag === 'C~') pending.push(unescapeScript(rest));
    else if (tag === 'S*') {
      flush();
      const lines = await client.readReply(timeoutMs);
      got.push(...lines);
      const last = lines[lines.length - 1]!;
      if (!globToRegExp(rest).test(last)) {
        assert.fail(
          `expected reply ending ${JSON.stringify(rest)}\n     got ${JSON.stringify(last)}\n--- so far:\n${client.log.join('\n')}`,
        );
      }
    } else if (tag === 'S:' || tag === 'S~') {
      flush();
      if (rest === '<closed>') {
        await client.expectClosed(timeoutMs);
        continue;
      }
      const l = await client.readLine(timeoutMs);
      if (l === undefined)
        assert.fail(`server closed; expected ${JSON.stringify(rest)}\n${client.log.join('\n')}`);
      got.push(l);
      const re = tag === 'S:' ? globToRegExp(rest) : new RegExp(rest);
      if (!re.test(l)) {
        assert.fail(
          `expected ${tag} ${JSON.stringify(rest)}\n     got ${JSON.stringify(l)}\n--- so far:\n${client.log.join('\n')}`,
        );
      }
    } else {
      throw new Error(`bad transcript line: ${raw}`);
    }
  }
  flush();
  return got;
}

/** Connects, plays the transcript, closes. */
export async function transcript(
  port: number,
  script: string,
  opts: { host?: string; timeoutMs?: number } = {},
) {
  const c = await LineClient.connect(port, opts.host);
  try {
    return await play(c, script, opts.timeoutMs);
  } finally {
    c.close();
  }
}
