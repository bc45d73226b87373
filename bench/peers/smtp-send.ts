/**
 * A minimal SMTP sender used to fill Posthorn's mailboxes before the POP3 benchmark: a few
 * parallel connections, each EHLO, then for each message MAIL/RCPT/DATA with the bytes written with
 * backpressure. It is not a load generator (that is smtp-source) and not a general client.
 *
 * Failure semantics: rejects on any reply outside 2xx/3xx, naming the command and the reply.
 */
import net from 'node:net';

/** Reads SMTP replies (possibly multi-line) off a socket. */
class ReplyReader {
  private buf = '';
  private waiters: ((line: string) => void)[] = [];
  private lines: string[] = [];
  private failure: Error | undefined;

  constructor(sock: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      let nl = this.buf.indexOf('\n');
      while (nl >= 0) {
        const line = this.buf.slice(0, nl).replace(/\r$/, '');
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
        nl = this.buf.indexOf('\n');
      }
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const w of this.waiters.splice(0)) w('');
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('connection closed')));
  }

  private line(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) =>
      this.waiters.push((x) => (this.failure && x === '' ? reject(this.failure) : resolve(x))),
    );
  }

  /** The next complete reply; rejects unless its code is 2xx/3xx. */
  async reply(what: string): Promise<string> {
    let line = await this.line();
    while (/^\d{3}-/.test(line)) line = await this.line();
    if (!/^[23]\d\d/.test(line)) throw new Error(`${what}: ${line}`);
    return line;
  }
}

function write(sock: net.Socket, data: Buffer | string): Promise<void> {
  if (sock.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      sock.off('drain', done);
      sock.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    sock.on('drain', done);
    sock.on('error', done);
  });
}

/** Sends `count` messages made by `message(i)` to `to` over `connections` parallel connections
 * (a durable server commits each message before 250, so one connection is latency-bound). */
export async function smtpSendAll(
  port: number,
  to: string,
  count: number,
  message: (i: number) => Buffer,
  connections = 1,
): Promise<void> {
  let next = 0;
  const take = () => (next < count ? next++ : undefined);
  await Promise.all(
    Array.from({ length: Math.min(connections, count) }, () => sendSome(port, to, take, message)),
  );
}

async function sendSome(
  port: number,
  to: string,
  take: () => number | undefined,
  message: (i: number) => Buffer,
): Promise<void> {
  const sock = net.connect(port, '127.0.0.1');
  // Small command writes behind a big body would otherwise wait for a delayed ACK (Nagle).
  sock.setNoDelay(true);
  const r = new ReplyReader(sock);
  try {
    await r.reply('greeting');
    await write(sock, 'EHLO client.bench.test\r\n');
    await r.reply('EHLO');
    for (let i = take(); i !== undefined; i = take()) {
      const body = message(i);
      await write(sock, `MAIL FROM:<a@bench.test> SIZE=${body.length}\r\n`);
      await r.reply('MAIL');
      await write(sock, `RCPT TO:<${to}>\r\n`);
      await r.reply('RCPT');
      await write(sock, 'DATA\r\n');
      await r.reply('DATA');
      // makeMessage() never starts a line with ".", so no dot-stuffing is needed.
      sock.cork();
      sock.write(body);
      const flushed = write(sock, '.\r\n');
      sock.uncork();
      await flushed;
      await r.reply(`message ${i}`);
    }
    await write(sock, 'QUIT\r\n');
    await r.reply('QUIT');
  } finally {
    sock.destroy();
  }
}
