/** Starts an SmtpServer on 127.0.0.1:0 over a MemorySmtpBackend; closed when the test file ends. */
import { after } from 'node:test';
import type { Logger } from '../../src/core/index.js';
import { SmtpServer, type SmtpServerOptions } from '../../src/smtp/index.js';
import { MemorySmtpBackend, type MemorySmtpBackendOptions } from '../support/memory-smtp-backend.js';

export interface Harness {
  server: SmtpServer;
  port: number;
  backend: MemorySmtpBackend;
}

/** A logger that keeps every line, to check what was (and was not) logged. */
export function memoryLogger(lines: Array<Record<string, unknown>> = []): Logger & { lines: typeof lines } {
  const make = (bindings: Record<string, unknown>): Logger & { lines: typeof lines } => {
    const at =
      (level: string) =>
      (a: Record<string, unknown> | string, msg?: string): void => {
        if (typeof a === 'string') lines.push({ ...bindings, level, msg: a });
        else lines.push({ ...bindings, ...a, level, msg });
      };
    return {
      lines,
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return make({});
}

export async function startServer(
  opts: Partial<SmtpServerOptions> = {},
  backendOpts: MemorySmtpBackendOptions = {},
): Promise<Harness> {
  const backend = (opts.backend as MemorySmtpBackend | undefined) ?? new MemorySmtpBackend(backendOpts);
  const server = new SmtpServer({ hostname: 'mx.example.org', ...opts, backend });
  const { port } = await server.listen('127.0.0.1', 0);
  after(() => server.close(200));
  return { server, port, backend };
}

/** Polls until `check` holds (for effects that follow a reply by a tick). */
export async function eventually(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
