/**
 * Garbage-collector setting for the long-running server, applied once before it starts.
 *
 * A mail server allocates message bytes outside the JavaScript heap (Buffers from SQLite and
 * sockets) on a small heap (about 20 MB). With V8's incremental marking, that pattern kept a
 * major collection running almost all the time: POP3 RETR of 1 MiB messages started one every
 * ~100 ms ("Start (task)" with the heap at 20 of 44 MB) and spent more CPU marking than serving,
 * 2.0-2.4 ms of server CPU per message against 0.7-0.8 ms without it (13 against 1 major GC per
 * 5,000 × 4 KiB RETRs, same measurement). Without incremental marking a major collection happens
 * only when the heap or external memory actually grows, as one pause of a few milliseconds at
 * this heap size; mail protocols wait seconds to minutes, so the pause costs nothing visible.
 *
 * Set at run time because `bin/posthorn`, `npm start` and a plain `node dist/src/cli/main.js` must
 * all behave alike; V8 reads this flag whenever it considers starting a collection.
 */
import v8 from 'node:v8';

export function tuneGarbageCollector(): void {
  v8.setFlagsFromString('--no-incremental-marking');
}
