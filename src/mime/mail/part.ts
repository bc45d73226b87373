/**
 * The part model the streaming parser produces, and the reading of one entity's MIME headers
 * (RFC 2045 §3-§8, RFC 2046, RFC 2183 Content-Disposition, RFC 2231 / RFC 2047 file names).
 *
 * Defaults per RFC 2045 §5.2: no (or an unparseable) Content-Type means text/plain; inside
 * multipart/digest it means message/rfc822 (RFC 2046 §5.1.5). No Content-Transfer-Encoding means
 * 7bit. A multipart without a boundary parameter is read as a leaf ('NoBoundaryInMultipart').
 */
import type { Defect } from '../defects.js';
import { type ContentType, parseContentDisposition, parseContentType } from '../entity/content-type.js';
import { normalizeTransferEncoding } from '../entity/encoding/index.js';
import { decodeEncodedWords, type Headers } from '../header/index.js';

/** One MIME entity of a parsed message. */
export interface MimePart {
  /** '' for the top level, '1', '1.2', ... below (see parser.ts). */
  path: string;
  /** Nesting depth: 0 for the top level. */
  depth: number;
  headers: Headers;
  /** Effective content type (defaults applied). */
  contentType: ContentType;
  /** Lowercase `type/subtype`. */
  mediaType: string;
  /** The declared charset parameter, if any (as written, trimmed). */
  charset: string | undefined;
  /** Lowercase Content-Transfer-Encoding; '7bit' when absent. */
  transferEncoding: string;
  /** Lowercase disposition type ('inline', 'attachment'), if the header is present. */
  disposition: string | undefined;
  dispositionParams: Record<string, string>;
  /** Decoded file name from Content-Disposition filename= or Content-Type name=. */
  filename: string | undefined;
  /** Content-ID without the angle brackets. */
  contentId: string | undefined;
  /** Decoded Content-Description. */
  description: string | undefined;
  mimeVersion: string | undefined;
  /** The boundary of a multipart part (undefined for leaves). */
  boundary: string | undefined;
  /** True for message/rfc822 and message/global: the one child is the encapsulated message. */
  isMessage: boolean;
  children: MimePart[];
  /** Decoded body size in bytes (leaves and message/* parts; 0 for multiparts). */
  size: number;
  /** Hex SHA-256 of the decoded body, when the parser was asked to hash. */
  sha256: string | undefined;
  /** Decoded body, when the parser was asked to keep it. */
  body: Buffer | undefined;
  /** First bytes of a multipart's preamble (kept when non-empty). */
  preamble: Buffer | undefined;
  /** Bytes of the header block. */
  headerSize: number;
  defects: Defect[];
}

const TEXT_PLAIN: ContentType = { type: 'text', subtype: 'plain', mediaType: 'text/plain', params: {} };
const MESSAGE_RFC822: ContentType = {
  type: 'message',
  subtype: 'rfc822',
  mediaType: 'message/rfc822',
  params: {},
};

/** Reads the MIME headers of one entity. Defects go to `part.defects` (the parser moves them). */
export function describePart(headers: Headers, path: string, depth: number, inDigest: boolean): MimePart {
  const defects: Defect[] = [];
  const fallback = inDigest ? MESSAGE_RFC822 : TEXT_PLAIN;
  let contentType = fallback;
  const ctValues = headers.getAll('content-type');
  if (ctValues.length > 1)
    defects.push({ type: 'DuplicateContentType', message: 'more than one Content-Type' });
  if (ctValues.length) {
    const r = parseContentType(ctValues[0]!);
    for (const d of r.defects) defects.push(d);
    if (r.value) contentType = r.value;
    else defects.push({ type: 'InvalidContentType', message: 'unparseable Content-Type; using the default' });
  }
  let mediaType = contentType.mediaType.toLowerCase();
  let boundary: string | undefined;
  if (contentType.type.toLowerCase() === 'multipart') {
    boundary = contentType.params.boundary;
    if (!boundary) {
      boundary = undefined;
      defects.push({
        type: 'NoBoundaryInMultipart',
        message: 'multipart without a boundary; read as text/plain',
      });
      contentType = TEXT_PLAIN;
      mediaType = 'text/plain';
    }
  }
  let disposition: string | undefined;
  let dispositionParams: Record<string, string> = {};
  const cd = headers.get('content-disposition');
  if (cd !== undefined) {
    const r = parseContentDisposition(cd);
    for (const d of r.defects) defects.push(d);
    if (r.value) {
      disposition = r.value.type.toLowerCase();
      dispositionParams = r.value.params;
    }
  }
  // Parameter values arrive decoded (RFC 2231 and the RFC 2047 form old clients write).
  const filename = dispositionParams.filename ?? contentType.params.name;
  const cid = headers.get('content-id');
  const desc = headers.get('content-description');
  const charset = contentType.params.charset?.trim();
  return {
    path,
    depth,
    headers,
    contentType,
    mediaType,
    charset: charset || undefined,
    transferEncoding: normalizeTransferEncoding(headers.get('content-transfer-encoding')),
    disposition,
    dispositionParams,
    filename,
    contentId: cid === undefined ? undefined : stripAngles(cid),
    description: desc === undefined ? undefined : decodeEncodedWords(desc),
    mimeVersion: headers.get('mime-version'),
    boundary,
    isMessage: mediaType === 'message/rfc822' || mediaType === 'message/global',
    children: [],
    size: 0,
    sha256: undefined,
    body: undefined,
    preamble: undefined,
    headerSize: 0,
    defects,
  };
}

function stripAngles(s: string): string {
  const t = s.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1).trim() : t;
}
