/**
 * Posthorn's MIME engine, the public API: header fields and RFC 2047 words (header/), content
 * types, charsets, transfer encodings and multipart framing (entity/), addresses, dates, message
 * ids, the streaming parser, the message reader, the composer and reply/forward building (mail/).
 * Pure apart from the composer reading `path` attachments.
 */
export { type Defect, MimeLimitError } from './defects.js';
export * from './entity/index.js';
export * from './header/index.js';
export * from './mail/index.js';
