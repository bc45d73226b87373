/**
 * Tells other processes sharing the SQLite file that accounts changed: `posthorn user add` or
 * `alias del` run while the server runs, and the server's account cache (../read-cache.ts) must
 * not keep answering from what it read before. The writing process rewrites a small sidecar file
 * (`<db>-accounts`) after its commit; every store watches that file (inotify through fs.watch)
 * and empties its cache on a change. Where watching is not possible the cache's age limit still
 * bounds staleness.
 */

import { randomInt } from 'node:crypto';
import { existsSync, type FSWatcher, watch, writeFileSync } from 'node:fs';

export class AccountStamp {
  private readonly file: string;
  private watcher: FSWatcher | undefined;

  constructor(dbFile: string) {
    this.file = `${dbFile}-accounts`;
  }

  /** Announces a committed account change (best effort: the cache's age limit is the fallback). */
  touch(): void {
    try {
      writeFileSync(this.file, `${Date.now()}.${randomInt(1e9)}\n`);
    } catch {
      // A read-only or full disk: readers fall back to the age limit.
    }
  }

  /** Calls `onChange` whenever any process touches the stamp; false if it cannot watch. */
  watch(onChange: () => void): boolean {
    try {
      if (!existsSync(this.file)) writeFileSync(this.file, '0\n', { flag: 'a' });
      this.watcher = watch(this.file, { persistent: false }, () => onChange());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
