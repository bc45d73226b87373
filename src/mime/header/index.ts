/**
 * Header layer of the MIME engine: raw fields with their bytes, the case-insensitive field map,
 * RFC 2047 encoded words and folding. Pure; no I/O.
 */

export { decodeEncodedWords, encodeHeaderValue, MAX_ENCODED_WORD_LENGTH } from './encoded-word.js';
export { DEFAULT_FOLD_LENGTH, foldHeader, HARD_LINE_LIMIT } from './fold.js';
export { Headers } from './headers.js';
export {
  DEFAULT_MAX_FIELDS,
  DEFAULT_MAX_HEADER_BYTES,
  type HeaderField,
  MAX_LINE_LENGTH,
  type ParseHeaderOptions,
  parseHeaderBlock,
} from './parse-block.js';
