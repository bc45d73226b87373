/**
 * Holds many idle client connections open against a server: each socket connects, waits for
 * the greeting, then sends nothing. Used to measure what an idle connection costs the server.
 *
 * Connects in batches so the listen backlog is not overrun. Each socket needs a file descriptor
 * in this process too: the caller checks `ulimit -n` first.
 *
 * Failure semantics: sockets that fail or are not greeted within the timeout are counted, not
 * thrown; `close()` destroys every socket.
 */
import net from 'node:net';

export interface IdleConnections {
  /** Sockets that received the greeting and are still open. */
  greeted(): number;
  /** Sockets that failed, were refused or were closed by the server. */
  failed(): number;
  close(): void;
}

const BATCH = 500;

export async function holdIdleConnections(
  port: number,
  count: number,
  timeoutMs = 60_000,
): Promise<IdleConnections> {
  const sockets: net.Socket[] = [];
  let greeted = 0;
  let failed = 0;
  const deadline = Date.now() + timeoutMs;
  for (let start = 0; start < count && Date.now() < deadline; start += BATCH) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      batch.push(
        new Promise<void>((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          sockets.push(s);
          let state: 'wait' | 'ok' | 'bad' = 'wait';
          const t = setTimeout(() => settle('bad'), Math.max(1, deadline - Date.now()));
          function settle(to: 'ok' | 'bad') {
            if (state === 'wait') {
              state = to;
              if (to === 'ok') greeted++;
              else failed++;
              clearTimeout(t);
              resolve();
            } else if (state === 'ok' && to === 'bad') {
              // Greeted, then closed by the server (a limit or an idle timeout).
              state = 'bad';
              greeted--;
              failed++;
            }
          }
          s.once('data', () => settle('ok'));
          s.on('error', () => settle('bad'));
          s.on('close', () => settle('bad'));
        }),
      );
    }
    await Promise.all(batch);
  }
  return {
    greeted: () => greeted,
    failed: () => failed,
    close() {
      for (const s of sockets) s.destroy();
    },
  };
}
