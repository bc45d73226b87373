/**
 * DKIM signing of outbound mail (RFC 6376) with mailauth, never hand-written crypto. Keys live in
 * the data directory, one file per domain (`dkim/<domain>.json`: selector and PEM private key, mode
 * 0600), so every command and the server find them without a store change. `posthorn domain dkim
 * NAME` creates the key (RSA 2048, RFC 8301) and prints the TXT record to publish at
 * `<selector>._domainkey.<domain>`.
 *
 * Failure semantics: a message whose From domain (else envelope sender domain) has no key goes out
 * unsigned; a signing error is logged and the message goes out unsigned rather than not at all.
 */
import { generateKeyPair } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { dkimSign } from 'mailauth/lib/dkim/sign.js';

export interface DkimKey {
  domain: string;
  selector: string;
  privateKey: string;
  /** The p= value (base64 DER SubjectPublicKeyInfo). */
  publicKey: string;
}

export const DEFAULT_DKIM_SELECTOR = 'posthorn';

const keyFile = (dataDir: string, domain: string) => join(dataDir, 'dkim', `${domain.toLowerCase()}.json`);

/** A selector is one or more DNS labels (RFC 6376 §3.1), kept short enough to fit a record name. */
export function isValidDkimSelector(s: string): boolean {
  return /^(?=.{1,63}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i.test(s);
}

/** The DNS TXT record for a key: `name`, the value to publish, and the zone-file line. */
export function dkimTxtRecord(k: DkimKey): { name: string; value: string; zone: string } {
  const name = `${k.selector}._domainkey.${k.domain}`;
  const value = `v=DKIM1; k=rsa; p=${k.publicKey}`;
  // A TXT character-string holds 255 octets at most (RFC 1035 §3.3): longer values are split.
  const strings = value.match(/.{1,255}/g)!.map((x) => `"${x}"`);
  return { name, value, zone: `${name}. IN TXT ${strings.join(' ')}` };
}

const generateRsa = promisify(generateKeyPair);

/**
 * Creates (or with `rotate`, replaces) the domain's key; returns the existing one otherwise. A
 * rotation keeps the old selector unless given another. The key is generated off the event loop
 * (RSA-2048 takes long enough to stall a server's sessions), and the file is replaced by a
 * rename, so a crash never leaves half a key.
 */
export async function ensureDkimKey(
  dataDir: string,
  domain: string,
  opts: { selector?: string; rotate?: boolean } = {},
): Promise<{ key: DkimKey; created: boolean }> {
  const d = domain.toLowerCase();
  const existing = loadDkimKey(dataDir, d);
  const selector = opts.selector ?? existing?.selector ?? DEFAULT_DKIM_SELECTOR;
  if (!isValidDkimSelector(selector)) throw new TypeError(`'${selector}' is not a valid DKIM selector`);
  if (existing && !opts.rotate) return { key: existing, created: false };
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const key: DkimKey = {
    domain: d,
    selector,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
  mkdirSync(join(dataDir, 'dkim'), { recursive: true, mode: 0o700 });
  const file = keyFile(dataDir, d);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return { key, created: true };
}

export function loadDkimKey(dataDir: string, domain: string): DkimKey | undefined {
  try {
    return JSON.parse(readFileSync(keyFile(dataDir, domain), 'utf8')) as DkimKey;
  } catch {
    return undefined;
  }
}

/** Every key in the data directory, by domain. */
export function loadDkimKeys(dataDir: string): Map<string, DkimKey> {
  const out = new Map<string, DkimKey>();
  let names: string[] = [];
  try {
    names = readdirSync(join(dataDir, 'dkim'));
  } catch {
    return out;
  }
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    const k = loadDkimKey(dataDir, n.slice(0, -5));
    if (k) out.set(k.domain, k);
  }
  return out;
}

/** The DKIM-Signature field (with its CRLF) for the message, or '' when signing failed. */
export async function dkimSignature(message: Parameters<typeof dkimSign>[0], key: DkimKey): Promise<string> {
  // Loaded on the first signature: mailauth and its dependencies are about 11 MB of heap that a
  // server without DKIM keys (or before its first outbound message) never needs, and a larger
  // heap makes every major garbage collection slower.
  const { dkimSign: sign } = await import('mailauth/lib/dkim/sign.js');
  const r = await sign(message, {
    canonicalization: 'relaxed/relaxed',
    algorithm: 'rsa-sha256',
    signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey }],
  } as Parameters<typeof dkimSign>[1]);
  if (r.errors.length > 0) throw new Error(`DKIM signing failed: ${JSON.stringify(r.errors[0])}`);
  return r.signatures.replace(/\r?\n/g, '\r\n');
}
