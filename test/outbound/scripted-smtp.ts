/**
 * A minimal scripted ESMTP peer over real TCP for outbound tests that need a server *unlike ours*:
 * chosen EHLO keywords (no 8BITMIME, no DSN, ...), replies from callbacks. It speaks RFC 5321
 * line by line (EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) and records
 * each accepted message's envelope and exact bytes.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface ScriptedMessage {
  from: string;
  mailLine: string;
  rcpts: string[];
  rcptLines: string[];
  data: Buffer;
}

export interface ScriptedOptions {
  /** EHLO keywords after the greeting line. */
  ehlo: string[];
  /** Reply to RCPT; default 250. */
  rcpt?: (address: string) => string;
  /** Reply after the data; default 250. */
  data?: (m: ScriptedMessage) => string;
}

export class ScriptedSmtp {
  readonly messages: ScriptedMessage[] = [];
  connections = 0;
  /** STARTTLS commands seen (advertise STARTTLS in `ehlo` to get them). */
  tlsAttempts = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly opts: ScriptedOptions) {
    this.server = createServer((s) => this.session(s));
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private session(s: Socket) {
    this.connections++;
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    let inData = false;
    let dataLines: Buffer[] = [];
    let cur: ScriptedMessage | undefined;
    const say = (line: string) => s.write(`${line}\r\n`);
    say('220 scripted.test ESMTP');
    let brokenTls = false;
    s.on('data', (chunk: Buffer) => {
      if (brokenTls) {
        s.end('this is not TLS\r\n'); // the answer to the ClientHello
        return;
      }
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.subarray(0, i);
        buf = buf.subarray(i + 2);
        if (inData) {
          if (line.length === 1 && line[0] === 0x2e) {
            inData = false;
            const m = cur!;
            m.data = Buffer.concat(dataLines.flatMap((l) => [l, Buffer.from('\r\n')]));
            const reply = this.opts.data?.(m) ?? '250 2.0.0 Ok: queued';
            if (reply.startsWith('2')) this.messages.push(m);
            say(reply);
            cur = undefined;
            continue;
          }
          dataLines.push(line[0] === 0x2e ? line.subarray(1) : line);
          continue;
        }
        const text = line.toString('latin1');
        const verb = text.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') {
          const caps = ['scripted.test', ...this.opts.ehlo];
          for (const [n, c] of caps.entries()) say(`250${n === caps.length - 1 ? ' ' : '-'}${c}`);
        } else if (verb === 'HELO') say('250 scripted.test');
        else if (verb === 'MAIL') {
          const from = /<([^>]*)>/.exec(text)?.[1] ?? '';
          cur = { from, mailLine: text, rcpts: [], rcptLines: [], data: Buffer.alloc(0) };
          say('250 2.1.0 Ok');
        } else if (verb === 'RCPT') {
          const to = /<([^>]*)>/.exec(text)?.[1] ?? '';
          const reply = this.opts.rcpt?.(to) ?? '250 2.1.5 Ok';
          if (reply.startsWith('2')) {
            cur?.rcpts.push(to);
            cur?.rcptLines.push(text);
          }
          say(reply);
        } else if (verb === 'DATA') {
          inData = true;
          dataLines = [];
          say('354 End data with <CR><LF>.<CR><LF>');
        } else if (verb === 'RSET') {
          cur = undefined;
          say('250 2.0.0 Ok');
        } else if (verb === 'STAR') {
          // A broken TLS stack: agree, then answer the handshake with text.
          this.tlsAttempts++;
          say('220 2.0.0 Ready to start TLS');
          brokenTls = true;
          return;
        } else if (verb === 'NOOP') say('250 2.0.0 Ok');
        else if (verb === 'QUIT') {
          say('221 2.0.0 Bye');
          s.end();
        } else say('502 5.5.2 Error: command not recognized');
      }
    });
  }
}
