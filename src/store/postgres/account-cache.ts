/**
 * A read cache of the account lookups every SMTP transaction makes (`domains.has`, `users.get`,
 * `users.getById`, `aliases.get`: four to six per message), kept coherent across nodes with
 * PostgreSQL's LISTEN/NOTIFY: every account write, on any node, runs `NOTIFY posthorn_accounts`
 * in its transaction, and every node empties its cache when the notification arrives (after the
 * commit). The cache is used only while this node's LISTEN connection is up; when it drops (a
 * database restart) the cache is emptied and bypassed until the connection is back, so a missed
 * notification cannot leave a stale entry. Entries also expire after `ttlMs` as a safety net.
 *
 * A read racing an invalidation never stores what it read (generation check), so the cache never
 * holds anything older than the last notification it saw.
 */
import type pg from 'pg';

export const ACCOUNT_CHANNEL = 'posthorn_accounts';
/** Upper bound of an entry's age even if no write happens. */
export const DEFAULT_ACCOUNT_CACHE_TTL_MS = 10_000;
/** Entries at most; the cache is emptied when full (accounts are few, lookups repeat). */
const MAX_ENTRIES = 50_000;
const RECONNECT_MS = 1_000;

export class AccountCache {
  private readonly entries = new Map<string, { value: unknown; at: number }>();
  private generation = 0;
  private listening = false;
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly connect: () => pg.Client,
    private readonly ttlMs: number,
    private readonly onState: (up: boolean, err?: Error) => void = () => {},
  ) {}

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
      this.listening = false;
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
      this.listening = true;
      this.onState(true);
    } catch (err) {
      down(err as Error);
    }
  }

  /** Empties the cache (a write here, or a notification from any node). */
  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  /** The cached value of `key`, or `load()`'s (stored when still current). */
  async get<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (!this.listening) return load();
    const hit = this.entries.get(key);
    // A copy: callers may change what they get.
    if (hit && Date.now() - hit.at < this.ttlMs) return structuredClone(hit.value) as T;
    const gen = this.generation;
    const value = await load();
    if (gen === this.generation && this.listening) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, { value: structuredClone(value), at: Date.now() });
    }
    return value;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.listening = false;
    this.entries.clear();
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
