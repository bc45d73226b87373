/**
 * The account cache (../read-cache.ts) kept coherent across nodes with PostgreSQL's LISTEN/NOTIFY: every account write, on any node, runs `NOTIFY posthorn_accounts`
 * in its transaction, and every node empties its cache when the notification arrives (after the
 * commit). The cache is used only while this node's LISTEN connection is up; when it drops (a
 * database restart) the cache is emptied and bypassed until the connection is back, so a missed
 * notification cannot leave a stale entry. Entries also expire after `ttlMs` as a safety net.
 */
import type pg from 'pg';
import { ReadCache } from '../read-cache.js';

export const ACCOUNT_CHANNEL = 'posthorn_accounts';
/** Upper bound of an entry's age even if no write happens. */
export const DEFAULT_ACCOUNT_CACHE_TTL_MS = 10_000;
const RECONNECT_MS = 1_000;

export class AccountCache {
  private readonly cache: ReadCache;
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly connect: () => pg.Client,
    ttlMs: number,
    private readonly onState: (up: boolean, err?: Error) => void = () => {},
  ) {
    this.cache = new ReadCache(ttlMs);
    this.cache.enabled = false;
  }

  /** Starts listening; resolves once the first attempt settled (the cache works without it). */
  async start(): Promise<void> {
    await this.listen();
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const c = this.connect();
    this.client = c;
    const down = (err?: Error) => {
      if (this.client !== c) return;
      this.client = undefined;
      this.cache.enabled = false;
      this.invalidate();
      this.onState(false, err);
      c.end().catch(() => {});
      if (!this.closed) this.timer = setTimeout(() => void this.listen(), RECONNECT_MS).unref();
    };
    c.on('error', down);
    c.on('end', () => down());
    c.on('notification', () => this.invalidate());
    try {
      await c.connect();
      await c.query(`LISTEN ${ACCOUNT_CHANNEL}`);
      if (this.client !== c) return;
      this.invalidate();
      this.cache.enabled = true;
      this.onState(true);
    } catch (err) {
      down(err as Error);
    }
  }

  /** Empties the cache (a write here, or a notification from any node). */
  invalidate(): void {
    this.cache.invalidate();
  }

  /** The cached value of `key`, or `load()`'s; the cache is bypassed while LISTEN is down. */
  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    return this.cache.get(key, load);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.cache.enabled = false;
    this.cache.invalidate();
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
