/**
 * EHLO capability lists (RFC 5321 §4.1.1.1): the server formats `250-hostname greeting` then one
 * keyword per line; the client parses them back into a map keyword → parameters.
 */
import type { SmtpReply } from '../server/backend.js';

/** The 250 reply to EHLO: no enhanced code (RFC 2034 §3 exempts the EHLO response lines). */
export function formatEhloReply(greeting: string, capabilities: string[]): SmtpReply {
  return { code: 250, text: [greeting, ...capabilities] };
}

/** Keyword (upper-cased) → its parameters, from a 250 EHLO reply. */
export function parseEhloReply(reply: SmtpReply): Map<string, string[]> {
  const lines = Array.isArray(reply.text) ? reply.text : [reply.text];
  const caps = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const [keyword, ...params] = line.trim().split(/ +/);
    if (keyword) caps.set(keyword.toUpperCase(), params);
  }
  return caps;
}
