/**
 * Entity layer of the MIME engine: Content-Type / Content-Disposition with RFC 2231 parameters,
 * charsets, Content-Transfer-Encoding codecs and multipart framing. Pure; no I/O.
 */
export { decodeCharset, decodeUtf8OrLatin1, normalizeCharset } from './charset.js';
export {
  type ContentDisposition,
  type ContentType,
  formatContentType,
  formatParams,
  parseContentDisposition,
  parseContentType,
} from './content-type.js';
export * from './encoding/index.js';
export {
  type DelimiterMatch,
  generateBoundary,
  MAX_BOUNDARY_LENGTH,
  MAX_TRANSPORT_PADDING,
  matchDelimiter,
} from './multipart.js';
