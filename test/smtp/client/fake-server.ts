/**
 * A scripted SMTP server for client tests: it plays a literal conversation from the server's
 * side, the way RFC 5321 Appendix D writes them, so a test can force any reply:
 *
 *   S: 220 fake.test ESMTP        send a line (consecutive S: lines go out in one write)
 *   S~ 250 raw\n                   send raw text after unescaping (\r \n \xHH)
 *   C: MAIL FROM:<a@b.test>*       expect one command line (`*` matches any run)
 *   C: <data>                      read a DATA body through CRLF.CRLF (kept raw, stuffed)
 *   S: <close>                     drop the connection
 *   S: <silence>                   answer nothing more (the client must time out)
 *   S: <stall>                     answer nothing and stop reading (writes stop draining)
 *
 * A `C:` line matching `BDAT <n>[ LAST]` also reads the n octets that follow. Each connection
 * plays the next script in the list (the last one repeats). Mismatches are recorded and end the
 * conversation; `conversations` keeps what each connection received, for assertions.
 */
import { createHash } from 'node:crypto';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after } from 'node:test';
import { unescapeScript } from '../../support/transcript.js';

export interface Conversation {
  /** Command lines received, in order (without CRLF). */
  lines: string[];
  /** DATA bodies as received on the wire (stuffed, with the terminator), or BDAT payloads. */
  bodies: Buffer[];
  /** With `hashBodies`: sha256 (hex) and size of each body instead of the bytes. */
  hashes: Array<{ sha256: string; octets: number }>;
  /** Script mismatches (empty when the client said exactly what the script expected). */
  errors: string[];
  /** Sizes of the 'data' events seen (to check what went out in one write). */
  reads: number[];
  /** Set when the script has run to its end or stopped. */
  done: Promise<void>;
}

export interface FakeServer {
  port: number;
  conversations: Conversation[];
  /** Resolves when `n` connections finished their scripts. */
  settled(n?: number): Promise<Conversation[]>;
  /** Total body octets received so far in the current DATA (for backpressure checks). */
  received: () => number;
  server: Server;
}

export interface FakeServerOptions {
  /** Keep only a hash of each body (big-message tests). */
  hashBodies?: boolean;
}

function glob(pattern: string): RegExp {
  const body = pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${body.join('.*')}$`, 's');
}

function parse(script: string): Array<{ tag: string; text: string }> {
  return script
    .split('\n')
    .map((l) => l.replace(/^\s+/, ''))
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ tag: l.slice(0, 2), text: l.slice(3) }));
}

/** A byte reader over a socket: lines, exact counts, and "until this terminator". */
class Reader {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  closed = false;
  total = 0;

  constructor(socket: Socket, reads: number[]) {
    socket.on('data', (d: Buffer) => {
      reads.push(d.length);
      this.total += d.length;
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  private async more(): Promise<boolean> {
    if (this.closed) return false;
    await new Promise<void>((r) => (this.waiter = r));
    this.waiter = undefined;
    return true;
  }

  async line(): Promise<string | undefined> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('utf8');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      if (!(await this.more())) return undefined;
    }
  }

  async exactly(n: number, sink: (b: Buffer) => void): Promise<boolean> {
    while (n > 0) {
      if (this.buf.length === 0 && !(await this.more())) return false;
      const take = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(take.length);
      n -= take.length;
      sink(take);
    }
    return true;
  }

  /** Hands out every octet up to and including `CRLF.CRLF` (the DATA terminator). */
  async untilTerminator(sink: (b: Buffer) => void): Promise<boolean> {
    // The body starts right after the DATA line's CRLF, so a leading ".\r\n" also terminates.
    let tail = Buffer.from('\r\n');
    for (;;) {
      if (this.buf.length === 0 && !(await this.more())) return false;
      const joined = Buffer.concat([tail, this.buf]);
      const i = joined.indexOf('\r\n.\r\n');
      if (i >= 0) {
        const end = i + 5 - tail.length;
        sink(this.buf.subarray(0, end));
        this.buf = this.buf.subarray(end);
        return true;
      }
      sink(this.buf);
      tail = joined.subarray(Math.max(0, joined.length - 4));
      this.buf = Buffer.alloc(0);
    }
  }
}

export async function fakeServer(
  scripts: string | string[],
  opts: FakeServerOptions = {},
): Promise<FakeServer> {
  const list = Array.isArray(scripts) ? scripts : [scripts];
  const conversations: Conversation[] = [];
  let current: Reader | undefined;
  let bodyStart = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    const script = parse(list[Math.min(conversations.length, list.length - 1)]!);
    let finish!: () => void;
    const conv: Conversation = {
      lines: [],
      bodies: [],
      hashes: [],
      errors: [],
      reads: [],
      done: new Promise<void>((r) => (finish = r)),
    };
    conversations.push(conv);
    const reader = new Reader(socket, conv.reads);
    current = reader;
    void run(socket, reader, script, conv).finally(finish);
  });

  async function run(
    socket: Socket,
    reader: Reader,
    script: Array<{ tag: string; text: string }>,
    conv: Conversation,
  ) {
    let out: string[] = [];
    const flush = () => {
      if (out.length) socket.write(out.join(''));
      out = [];
    };
    const keepBody = (parts: Buffer[]) => {
      const data = Buffer.concat(parts);
      conv.bodies.push(data);
    };
    for (const step of script) {
      if (step.tag === 'S:' && step.text === '<close>') {
        flush();
        socket.destroy();
        return;
      }
      if (step.tag === 'S:' && step.text === '<stall>') {
        // Stop reading: the kernel buffers fill and the client's writes stop draining.
        flush();
        socket.pause();
        socket.removeAllListeners('data');
        return;
      }
      if (step.tag === 'S:' && step.text === '<silence>') {
        flush();
        return;
      }
      if (step.tag === 'S:') {
        out.push(`${step.text}\r\n`);
        continue;
      }
      if (step.tag === 'S~') {
        out.push(unescapeScript(step.text));
        continue;
      }
      flush();
      if (step.text === '<data>') {
        const parts: Buffer[] = [];
        const hash = createHash('sha256');
        let octets = 0;
        bodyStart = reader.total;
        const ok = await reader.untilTerminator((b) => {
          octets += b.length;
          if (opts.hashBodies) hash.update(b);
          else parts.push(Buffer.from(b));
        });
        if (!ok) {
          conv.errors.push('connection closed inside DATA');
          return;
        }
        if (opts.hashBodies) conv.hashes.push({ sha256: hash.digest('hex'), octets });
        else keepBody(parts);
        continue;
      }
      const line = await reader.line();
      if (line === undefined) {
        conv.errors.push(`expected ${JSON.stringify(step.text)}, connection closed`);
        return;
      }
      conv.lines.push(line);
      if (!glob(step.text).test(line)) {
        conv.errors.push(`expected ${JSON.stringify(step.text)}, got ${JSON.stringify(line)}`);
        socket.destroy();
        return;
      }
      const bdat = /^BDAT (\d+)( LAST)?$/i.exec(line);
      if (bdat) {
        const parts: Buffer[] = [];
        bodyStart = reader.total;
        if (!(await reader.exactly(Number(bdat[1]), (b) => parts.push(Buffer.from(b))))) {
          conv.errors.push('connection closed inside BDAT');
          return;
        }
        keepBody(parts);
      }
    }
    flush();
  }

  const { port } = await new Promise<AddressInfo>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(server.address() as AddressInfo)),
  );
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    port,
    conversations,
    server,
    received: () => (current ? current.total - bodyStart : 0),
    async settled(n = 1) {
      while (conversations.length < n) await new Promise((r) => setTimeout(r, 5));
      await Promise.all(conversations.map((c) => c.done));
      return conversations;
    },
  };
}
