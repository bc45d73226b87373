/**
 * Content-Transfer-Encoding (RFC 2045 §6): incremental codecs for 7bit, 8bit, binary, base64 and
 * quoted-printable, plus Node Transform streams over them.
 *
 * Failure semantics: decoders never throw on content; damage is recorded in `defects`. An unknown
 * encoding name decodes as identity with an 'UnknownTransferEncoding' defect (RFC 2045 §6.4 says
 * such a body must be treated as application/octet-stream; the caller decides that).
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Defect } from '../../defects.js';
import { Base64Decoder, Base64Encoder } from './base64.js';
import { QpDecoder, QpEncoder, type QpEncoderOptions } from './quoted-printable.js';

export {
  BASE64_LINE_LENGTH,
  Base64Decoder,
  Base64Encoder,
  encodeLines as encodeBase64Lines,
} from './base64.js';
export { QP_LINE_LENGTH, QpDecoder, QpEncoder, type QpEncoderOptions } from './quoted-printable.js';

/** An incremental byte transformation: feed chunks with `push`, finish with `end`. */
export interface ByteCodec {
  push(chunk: Uint8Array): Buffer;
  end(): Buffer;
  readonly defects: Defect[];
}

/** The encodings of RFC 2045 §6.1. */
export type TransferEncoding = '7bit' | '8bit' | 'binary' | 'base64' | 'quoted-printable';

/** Passes bytes through: 7bit, 8bit and binary are not transformations (RFC 2045 §6.2). */
export class IdentityCodec implements ByteCodec {
  readonly defects: Defect[] = [];
  push(chunk: Uint8Array): Buffer {
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  end(): Buffer {
    return Buffer.alloc(0);
  }
}

/** Lower-cases and trims a Content-Transfer-Encoding value; undefined or empty means '7bit'. */
export function normalizeTransferEncoding(value: string | undefined): string {
  const v = (value ?? '').trim().toLowerCase();
  return v === '' ? '7bit' : v;
}

/** True when `name` is one of the RFC 2045 encodings. */
export function isKnownTransferEncoding(name: string): name is TransferEncoding {
  return (
    name === '7bit' ||
    name === '8bit' ||
    name === 'binary' ||
    name === 'base64' ||
    name === 'quoted-printable'
  );
}

/** A decoder for a Content-Transfer-Encoding value (case-insensitive, tolerant of x- names). */
export function createDecoder(encoding: string | undefined): ByteCodec {
  const name = normalizeTransferEncoding(encoding);
  switch (name) {
    case 'base64':
      return new Base64Decoder();
    case 'quoted-printable':
      return new QpDecoder();
    case '7bit':
    case '8bit':
    case 'binary':
      return new IdentityCodec();
    default: {
      const codec = new IdentityCodec();
      codec.defects.push({ type: 'UnknownTransferEncoding', message: `unknown transfer encoding '${name}'` });
      return codec;
    }
  }
}

/** An encoder for one of the RFC 2045 encodings. */
export function createEncoder(encoding: TransferEncoding, opts: QpEncoderOptions = {}): ByteCodec {
  switch (encoding) {
    case 'base64':
      return new Base64Encoder();
    case 'quoted-printable':
      return new QpEncoder(opts);
    default:
      return new IdentityCodec();
  }
}

/** Decodes a whole buffer (convenience for small bodies and tests). */
export function decodeTransferEncoding(
  data: Uint8Array,
  encoding: string | undefined,
): { data: Buffer; defects: Defect[] } {
  const codec = createDecoder(encoding);
  const a = codec.push(data);
  const b = codec.end();
  return { data: b.length ? Buffer.concat([a, b]) : Buffer.from(a), defects: codec.defects };
}

/** Encodes a whole buffer (convenience for small bodies and tests). */
export function encodeTransferEncoding(
  data: Uint8Array,
  encoding: TransferEncoding,
  opts: QpEncoderOptions = {},
): Buffer {
  const codec = createEncoder(encoding, opts);
  const a = codec.push(data);
  const b = codec.end();
  return b.length ? Buffer.concat([a, b]) : Buffer.from(a);
}

/** A Transform stream around a codec; its `defects` are the codec's. */
export class CodecStream extends Transform {
  constructor(private readonly codec: ByteCodec) {
    super();
  }
  get defects(): Defect[] {
    return this.codec.defects;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = this.codec.push(chunk);
    if (out.length) this.push(out);
    cb();
  }
  override _flush(cb: TransformCallback): void {
    const out = this.codec.end();
    if (out.length) this.push(out);
    cb();
  }
}

/** A Transform stream decoding the named transfer encoding. */
export function createDecodeStream(encoding: string | undefined): CodecStream {
  return new CodecStream(createDecoder(encoding));
}

/** A Transform stream encoding to the named transfer encoding. */
export function createEncodeStream(encoding: TransferEncoding, opts: QpEncoderOptions = {}): CodecStream {
  return new CodecStream(createEncoder(encoding, opts));
}
