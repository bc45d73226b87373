/**
 * Test support for the web API: an in-process Posthorn (memory store, the real InboundBackend,
 * an SMTP listener and the web listener, all on 127.0.0.1:0) and a tiny cookie-keeping client
 * over node's fetch.
 */
import nodemailer from 'nodemailer';
import { silentLogger } from '../../src/core/index.js';
import { Authenticator, hashPassword } from '../../src/mta/auth/index.js';
import { InboundBackend } from '../../src/mta/inbound/index.js';
import { SmtpServer } from '../../src/smtp/index.js';
import { createMemoryStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { createWebServer, type WebServer, type WebServerOptions } from '../../src/web/index.js';

export interface TestSite {
  store: Store;
  web: WebServer;
  base: string;
  smtpPort: number;
  close(): Promise<void>;
}

export const PASSWORDS: Record<string, string> = {
  'kihyun@uu.ac.kr': 'kihyun-pw-1',
  'mina@uu.ac.kr': 'mina-pw-12',
  'root@uu.ac.kr': 'root-pw-123',
};

export async function startSite(opts: Partial<WebServerOptions> = {}): Promise<TestSite> {
  const store = createMemoryStore();
  await store.domains.add('uu.ac.kr');
  for (const [address, pw] of Object.entries(PASSWORDS)) {
    await store.users.add({
      address,
      passwordHash: await hashPassword(pw),
      isAdmin: address.startsWith('root@'),
    });
  }
  const authenticator = new Authenticator(store, { defaultDomain: 'uu.ac.kr' });
  const backend = new InboundBackend({ store, hostname: 'mx.uu.ac.kr', logger: silentLogger, authenticator });
  const smtp = new SmtpServer({ hostname: 'mx.uu.ac.kr', backend, logger: silentLogger });
  const smtpPort = (await smtp.listen('127.0.0.1', 0)).port;
  const web = await createWebServer({
    store,
    authenticator,
    backend,
    hostname: 'mx.uu.ac.kr',
    logger: silentLogger,
    ...opts,
  });
  const addr = await web.listen('127.0.0.1', 0);
  return {
    store,
    web,
    base: `http://127.0.0.1:${addr.port}`,
    smtpPort,
    async close() {
      await web.close();
      await smtp.close();
      await store.close();
    },
  };
}

/** Delivers raw message bytes over SMTP (port 25 style, no auth) with nodemailer. */
export async function deliverSmtp(
  port: number,
  from: string,
  to: string[],
  raw: Buffer | string,
): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  await t.sendMail({ envelope: { from, to }, raw });
  t.close();
}

export interface Res {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field in the tests
  json: any;
  body: Buffer;
}

export class Client {
  cookie = '';
  csrf = '';
  constructor(readonly base: string) {}

  async req(
    method: string,
    path: string,
    body?: unknown,
    opts: { csrf?: string | null; headers?: Record<string, string>; raw?: string | FormData } = {},
  ): Promise<Res> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.cookie) headers.cookie = this.cookie;
    const token = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (token) headers['x-csrf-token'] = token;
    let payload: string | FormData | undefined = opts.raw;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const r = await fetch(this.base + path, { method, headers, body: payload, redirect: 'manual' });
    const set = r.headers.get('set-cookie');
    if (set) {
      const m = /posthorn_session=([^;]*)/.exec(set);
      if (m) this.cookie = m[1] ? `posthorn_session=${m[1]}` : '';
    }
    const buf = Buffer.from(await r.arrayBuffer());
    // biome-ignore lint/suspicious/noExplicitAny: see Res.json
    let json: any;
    try {
      json = JSON.parse(buf.toString('utf8'));
    } catch {
      json = undefined;
    }
    return { status: r.status, headers: r.headers, json, body: buf };
  }

  async login(address: string, password = PASSWORDS[address]!): Promise<Res> {
    const r = await this.req('POST', '/api/login', { address, password });
    if (r.status === 200) this.csrf = r.json.csrfToken;
    return r;
  }
}
