import { isIP } from 'node:net';

/** What a protocol server knows about one client connection; protocol servers keep it current. */
export interface ConnInfo {
  /** Unique per connection; appears in every log line of the session. */
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Which listener accepted it: 'smtp' | 'submission' | 'smtps' | 'pop3' | 'pop3s' | ... */
  readonly listener: string;
  /** True once TLS is active (implicit TLS or after STARTTLS/STLS). */
  tls: boolean;
  /** HELO/EHLO argument, once given. */
  helo?: string;
  /** True when the client greeted with EHLO (or LHLO). */
  esmtp: boolean;
  /** Authenticated identity (an address), once AUTH succeeded. */
  authUser?: string;
}

/** Loopback clients (127.0.0.0/8, ::1, ::ffff:127.x) get the textbook leniencies (plain auth without TLS). */
export function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1';
}

let counter = 0;
/** Short, sortable, unique-enough connection/session ids: base36 time + counter. */
export function newId(prefix = ''): string {
  counter = (counter + 1) % 1679616;
  return prefix + Date.now().toString(36) + counter.toString(36).padStart(4, '0');
}
