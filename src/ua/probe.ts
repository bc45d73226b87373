/**
 * `account test`: connect to both servers, log in, and report what each advertises (EHLO
 * keywords, POP3 CAPA) and whether the connection is encrypted. Failures are reported per server,
 * never thrown, so the user sees both results.
 */
import type { Account } from './accounts.js';
import { connectPop3 } from './fetch.js';
import { connectSmtp } from './send.js';

export interface ProbeResult {
  server: 'smtp' | 'pop3';
  endpoint: string;
  ok: boolean;
  error?: string;
  tls?: boolean;
  greeting?: string;
  /** EHLO keywords with parameters, or CAPA lines. */
  capabilities?: string[];
  /** POP3: messages and octets waiting. */
  maildrop?: { count: number; size: number };
}

export async function probeAccount(account: Account, password: string): Promise<ProbeResult[]> {
  const smtp: ProbeResult = {
    server: 'smtp',
    endpoint: `${account.smtp.host}:${account.smtp.port}`,
    ok: false,
  };
  try {
    const c = await connectSmtp(account, password);
    smtp.tls = c.secure;
    const g = c.greeting.text;
    smtp.greeting = Array.isArray(g) ? g.join(' ') : g;
    smtp.capabilities = [...c.capabilities.raw.entries()].map(([k, v]) => [k, ...v].join(' '));
    smtp.ok = true;
    await c.quit().catch(() => {});
  } catch (err) {
    smtp.error = (err as Error).message;
  }
  const pop3: ProbeResult = {
    server: 'pop3',
    endpoint: `${account.pop3.host}:${account.pop3.port}`,
    ok: false,
  };
  try {
    const c = await connectPop3(account, password);
    pop3.tls = c.tls;
    pop3.greeting = c.greeting;
    pop3.capabilities = await c.capa().catch(() => []);
    pop3.maildrop = await c.stat();
    pop3.ok = true;
    await c.quit().catch(() => {});
  } catch (err) {
    pop3.error = (err as Error).message;
  }
  return [smtp, pop3];
}
