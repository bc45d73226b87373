/**
 * Reuse of outbound SMTP connections (like Postfix's smtp connection cache): after a completed
 * transaction a connection may wait, idle, for the next message to the same host instead of
 * saying QUIT, which saves the TCP and TLS handshakes, the greeting and EHLO per message.
 *
 * A cached connection is closed (QUIT) after `idleMs` (Postfix smtp_connection_cache_time_limit,
 * 2 s) or when more than `maxIdlePerKey` wait for one host. The server may close it meanwhile; the
 * caller then retries once on a fresh connection (deliver.ts), so reuse never turns into a deferral.
 */
import type { SmtpClient } from '../../smtp/client/index.js';

export const DEFAULT_CONNECTION_IDLE_MS = 2_000;
export const DEFAULT_MAX_IDLE_PER_KEY = 20;

interface Idle {
  client: SmtpClient;
  timer: NodeJS.Timeout;
}

export class ConnectionCache {
  private readonly idle = new Map<string, Idle[]>();
  private closed = false;

  constructor(
    private readonly idleMs = DEFAULT_CONNECTION_IDLE_MS,
    private readonly maxIdlePerKey = DEFAULT_MAX_IDLE_PER_KEY,
  ) {}

  /** A usable idle connection for `key`, or undefined. */
  take(key: string): SmtpClient | undefined {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const i = list.pop()!;
      clearTimeout(i.timer);
      if (i.client.usable) return i.client;
      i.client.close();
    }
    return undefined;
  }

  /** Keeps a connection after a completed transaction, or says QUIT when it cannot be kept. */
  put(key: string, client: SmtpClient): void {
    const list = this.idle.get(key) ?? [];
    if (this.closed || !client.usable || list.length >= this.maxIdlePerKey) {
      void quit(client);
      return;
    }
    const entry: Idle = {
      client,
      timer: setTimeout(() => {
        const l = this.idle.get(key);
        const at = l?.indexOf(entry) ?? -1;
        if (at >= 0) l!.splice(at, 1);
        void quit(client);
      }, this.idleMs),
    };
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }

  /** QUITs every idle connection; later `put`s close at once. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.allSettled(
      all.map((i) => {
        clearTimeout(i.timer);
        return quit(i.client);
      }),
    );
  }
}

async function quit(client: SmtpClient): Promise<void> {
  try {
    if (client.usable) await client.quit();
  } catch {
    // Gone already.
  } finally {
    client.close();
  }
}
