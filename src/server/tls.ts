/**
 * The certificate for STARTTLS/STLS and the implicit-TLS ports: the configured files, or a
 * self-signed one generated into the data dir on first start (so TLS works out of the box and
 * clients can at least encrypt). Configured files are watched, and a renewed certificate (e.g.
 * Let's Encrypt) is picked up without a restart.
 */
import { unwatchFile, watchFile } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from '../core/index.js';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  context: SecureContext;
  selfSigned: boolean;
}

async function generateSelfSigned(dir: string, hostname: string): Promise<{ key: string; cert: string }> {
  const { generate } = await import('selfsigned');
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 5);
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: notAfter,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] }],
  } as Parameters<typeof generate>[1]);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'key.pem'), pems.private, { mode: 0o600 });
  await writeFile(join(dir, 'cert.pem'), pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert };
}

export async function loadTls(opts: {
  certFile?: string;
  keyFile?: string;
  dataDir: string;
  hostname: string;
}): Promise<TlsMaterial> {
  if (opts.certFile && opts.keyFile) {
    const [cert, key] = await Promise.all([readFile(opts.certFile), readFile(opts.keyFile)]);
    return { key, cert, context: createSecureContext({ key, cert }), selfSigned: false };
  }
  const dir = join(opts.dataDir, 'tls');
  let key: Buffer;
  let cert: Buffer;
  try {
    [key, cert] = await Promise.all([readFile(join(dir, 'key.pem')), readFile(join(dir, 'cert.pem'))]);
  } catch {
    const pems = await generateSelfSigned(dir, opts.hostname);
    key = Buffer.from(pems.key);
    cert = Buffer.from(pems.cert);
  }
  return { key, cert, context: createSecureContext({ key, cert }), selfSigned: true };
}

/** Calls `onChange` with fresh material when the configured files change; returns a stop function. */
export function watchTls(
  certFile: string,
  keyFile: string,
  logger: Logger,
  onChange: (m: TlsMaterial) => void,
): () => void {
  const reload = async () => {
    try {
      const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
      onChange({ key, cert, context: createSecureContext({ key, cert }), selfSigned: false });
      logger.info({ cert: certFile }, 'TLS certificate reloaded');
    } catch (err) {
      logger.warn(
        { err: (err as Error).message, cert: certFile },
        'TLS certificate reload failed; keeping the old one',
      );
    }
  };
  watchFile(certFile, { interval: 5000 }, reload);
  watchFile(keyFile, { interval: 5000 }, reload);
  return () => {
    unwatchFile(certFile, reload);
    unwatchFile(keyFile, reload);
  };
}
