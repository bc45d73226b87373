/**
 * Charset labels and decoding for MIME text (RFC 2045 §5.1 `charset`, RFC 2047 encoded words,
 * RFC 2231 parameter values).
 *
 * Labels are resolved the WHATWG Encoding Standard way (what every browser and most mail readers
 * do): `iso-8859-1`, `latin1` and `us-ascii` all become `windows-1252`, a superset that also reads
 * the C1 range the way senders meant it. A few mail-only aliases are added: Korean mail still says
 * `ks_c_5601-1987` / `cp949`, which WHATWG folds into `euc-kr` (the UHC superset).
 *
 * Decoding never throws: malformed sequences become U+FFFD; an unknown label decodes as UTF-8 when
 * the bytes are valid UTF-8, otherwise as latin1, and adds an 'UnknownCharset' defect. Legacy
 * charsets are decoded by iconv-lite (see decodeKnown for why not TextDecoder); ISO-2022-KR
 * (RFC 1557), which WHATWG maps to the 'replacement' decoder, is shifted to EUC-KR here.
 */
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import iconv from 'iconv-lite';
import type { Defect } from '../defects.js';

/** Labels TextDecoder does not know (or maps to 'replacement') but mail uses. */
const MAIL_ALIASES: Record<string, string> = {
  cp949: 'euc-kr',
  'x-windows-949': 'euc-kr',
  'windows-949': 'euc-kr',
  uhc: 'euc-kr',
  ks_c_5601: 'euc-kr',
  'ks_c_5601-1989': 'euc-kr',
  ksc_5601: 'euc-kr',
  'ks-c-5601-1987': 'euc-kr',
  'x-euc-kr': 'euc-kr',
  'iso-2022-kr': 'iso-2022-kr',
  csiso2022kr: 'iso-2022-kr',
  utf7: 'utf-7',
  'utf-7': 'utf-7',
  'unicode-1-1-utf-7': 'utf-7',
  'x-unicode20utf8': 'utf-8',
  'x-unknown': '',
  unknown: '',
  'unknown-8bit': '',
  '8bit': '',
  default: '',
};

const cache = new Map<string, string | undefined>();
const decoders = new Map<string, TextDecoder>();
const utf8Decoder = new TextDecoder('utf-8');

/**
 * Canonical lowercase WHATWG encoding name for a charset label, or undefined when unknown.
 * Mail-only labels TextDecoder lacks resolve to the iconv-lite name ('utf-7', 'iso-2022-kr').
 */
export function normalizeCharset(name: string): string | undefined {
  const hit = cache.get(name);
  if (hit !== undefined || cache.has(name)) return hit;
  const result = resolve(name);
  if (cache.size < 1000) cache.set(name, result);
  return result;
}

function resolve(name: string): string | undefined {
  let label = name.trim().toLowerCase();
  if (label.length >= 2 && (label[0] === '"' || label[0] === "'")) label = label.slice(1, -1).trim();
  if (label === '') return undefined;
  const alias = MAIL_ALIASES[label];
  if (alias !== undefined) return alias === '' ? undefined : alias;
  try {
    const enc = new TextDecoder(label).encoding;
    if (enc !== 'replacement') return enc;
  } catch {
    // not a WHATWG label; try iconv-lite below
  }
  // 'iso8859_1', 'utf_8', 'windows1252' style spellings.
  const dashed = label.replace(/_/g, '-').replace(/^(iso)-?(8859)-?/, 'iso-8859-');
  if (dashed !== label) {
    const again = resolve(dashed);
    if (again !== undefined) return again;
  }
  if (iconv.encodingExists(label)) return label;
  return undefined;
}

/**
 * Decodes bytes in the given charset. `undefined` charset means "not declared": UTF-8 when valid,
 * else latin1, without a defect. An unknown label does the same and reports 'UnknownCharset'.
 */
export function decodeCharset(
  bytes: Uint8Array,
  charset: string | undefined,
): { text: string; defect?: Defect } {
  if (charset === undefined) return { text: decodeUtf8OrLatin1(bytes) };
  const enc = normalizeCharset(charset);
  if (enc === undefined) {
    return {
      text: decodeUtf8OrLatin1(bytes),
      defect: { type: 'UnknownCharset', message: `unknown charset "${charset.slice(0, 64)}"` },
    };
  }
  return { text: decodeKnown(bytes, enc) };
}

/** UTF-8 when the bytes are valid UTF-8 (ASCII included), otherwise latin1 (never fails). */
export function decodeUtf8OrLatin1(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isUtf8(buf) ? buf.toString('utf8') : buf.toString('latin1');
}

/**
 * WHATWG names whose iconv-lite table is the superset WHATWG means: `euc-kr` is really UHC/CP949
 * (Korean mail needs the extension syllables), `gbk` decodes as GB18030, `shift_jis` as CP932.
 */
const ICONV_NAMES: Record<string, string> = {
  'euc-kr': 'cp949',
  gbk: 'gb18030',
  shift_jis: 'cp932',
  'iso-8859-8-i': 'iso-8859-8',
  'x-mac-cyrillic': 'maccyrillic',
};

/**
 * Node 20's TextDecoder reads windows-1252 as latin1 and EUC-KR without the UHC extension, so
 * every charset iconv-lite knows goes through iconv-lite; TextDecoder keeps UTF-8 (native, fast)
 * and what iconv-lite lacks (ISO-2022-JP).
 */
function decodeKnown(bytes: Uint8Array, enc: string): string {
  if (enc === 'utf-8') return utf8Decoder.decode(bytes);
  if (enc === 'iso-2022-kr') return decodeIso2022Kr(bytes);
  const name = ICONV_NAMES[enc] ?? enc;
  if (iconv.encodingExists(name)) {
    return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name);
  }
  let dec = decoders.get(enc);
  if (dec === undefined) {
    try {
      dec = new TextDecoder(enc);
    } catch {
      return decodeUtf8OrLatin1(bytes);
    }
    decoders.set(enc, dec);
  }
  return dec.decode(bytes);
}

const ESC = 0x1b;
const SO = 0x0e;
const SI = 0x0f;

/**
 * RFC 1557: `ESC $ ) C` announces KS C 5601 in G1; SO shifts to it, SI back to ASCII. The shifted
 * 7-bit pairs are EUC-KR with the high bit cleared, so set it and let the EUC-KR decoder work.
 */
function decodeIso2022Kr(bytes: Uint8Array): string {
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  let shifted = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === ESC && bytes[i + 1] === 0x24 && bytes[i + 2] === 0x29 && bytes[i + 3] === 0x43) {
      i += 3;
    } else if (b === SO) {
      shifted = true;
    } else if (b === SI || b === 0x0a || b === 0x0d) {
      // RFC 1557: SO state ends at every line end.
      shifted = false;
      if (b !== SI) out[n++] = b;
    } else {
      out[n++] = shifted && b >= 0x21 && b <= 0x7e ? b | 0x80 : b;
    }
  }
  return decodeKnown(out.subarray(0, n), 'euc-kr');
}
