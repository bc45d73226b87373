/**
 * Streaming MIME parser (RFC 2045, RFC 2046 §5, RFC 5322): bytes in any chunking, a tree of parts
 * out. Each part carries its parsed headers, content type, transfer encoding, disposition, decoded
 * file name, Content-ID and Content-Description; its decoded body is kept as a Buffer, hashed, or
 * passed to a callback chunk by chunk, so a large attachment never has to sit in memory whole.
 *
 * Part paths: the top-level entity is ''; children of a multipart are numbered from 1 and append
 * to their parent's path ('1', '1.2'); a message/rfc822 or message/global part has exactly one
 * child, the encapsulated message, at `<path>.1`.
 *
 * Failure semantics (Python email's "defects, not exceptions"): damaged content yields the best
 * tree we can build plus defects ('MissingClosingBoundary', 'StartBoundaryNotFound',
 * 'MissingHeaderBodySeparator', 'NoBoundaryInMultipart', 'InvalidBase64Padding', ...). Only a
 * configured limit (nesting depth, part count, header block size) throws, as MimeLimitError.
 *
 * Leniency, written down: bare LF ends lines everywhere; a delimiter line may carry trailing
 * whitespace; the first line that is neither a header field, a continuation nor empty ends the
 * header block (the body starts there); an outer boundary closes unclosed inner multiparts;
 * end of input closes everything. A multipart whose start boundary never appears keeps its body
 * as `preamble` and records 'StartBoundaryNotFound'.
 *
 * Buffers passed to `write` are kept by reference while parsing (no copy); callers must not
 * modify them afterwards.
 */
import { createHash, type Hash } from 'node:crypto';
import { type Defect, MimeLimitError } from '../defects.js';
import { type ByteCodec, createDecoder } from '../entity/encoding/index.js';
import { matchDelimiter } from '../entity/multipart.js';
import { DEFAULT_MAX_HEADER_BYTES, Headers, parseHeaderBlock } from '../header/index.js';
import { describePart, type MimePart } from './part.js';

export type { MimePart } from './part.js';

/** RFC 2046 sets no nesting limit; 50 levels is far past any real message and bounds recursion. */
export const DEFAULT_MAX_DEPTH = 50;
/** Parts per message (all levels). 100,000 leaves room for huge digests yet bounds memory. */
export const DEFAULT_MAX_PARTS = 100_000;
/** Preamble bytes kept, so a multipart whose boundary never appears still shows its body. */
export const MAX_KEPT_PREAMBLE = 64 * 1024;

/** Options for {@link MimeParser}. */
export interface MimeParserOptions {
  /** Which decoded bodies are kept as `part.body`: all (default), text/* only, or none. */
  collect?: 'all' | 'text' | 'none';
  /** Compute `part.sha256` of every decoded body (default false). */
  hash?: boolean;
  maxDepth?: number;
  maxParts?: number;
  maxHeaderBytes?: number;
  /** Called when a part's headers are parsed, before any of its body. */
  onPart?: (part: MimePart) => void;
  /** Called with each decoded body chunk of a leaf (or message/*) part. */
  onPartData?: (part: MimePart, chunk: Buffer) => void;
  /** Called when a part is complete (its body and, for containers, all children). */
  onPartEnd?: (part: MimePart) => void;
}

interface Shared {
  opts: MimeParserOptions;
  maxDepth: number;
  maxParts: number;
  maxHeaderBytes: number;
  parts: number;
  defects: Defect[];
}

interface Sink {
  write(chunk: Buffer): void;
  end(): void;
}

interface Frame {
  part: MimePart;
  boundary: Buffer;
  children: number;
}

const EMPTY = Buffer.alloc(0);
const LF_DASH_DASH = Buffer.from('\n--', 'latin1');

/**
 * Incremental parser: call `write(chunk)` any number of times, then `end()` for the root part.
 * Synchronous; the async {@link parseMime} feeds it with pauses so the event loop keeps turning.
 */
export class MimeParser {
  /** All defects found so far, in order, each with the path of its part. */
  readonly defects: Defect[];
  private root: MimePart | undefined;
  private buf: Buffer = EMPTY;
  private mode: 'header' | 'body' = 'header';
  /** Where header-line scanning resumes in `buf`. */
  private scan = 0;
  private frames: Frame[] = [];
  private boundaries: Buffer[] = [];
  private sink: Sink | undefined;
  /** `buf[0]` is at a line start whose line break belongs to no body (a delimiter may follow). */
  private bodyStart = true;
  private headerParent: MimePart | undefined;
  private ended = false;
  private readonly shared: Shared;

  constructor(
    opts: MimeParserOptions = {},
    /** Internal: the message/* part this parser reads the encapsulated message of. */
    private readonly container?: { part: MimePart; shared: Shared },
  ) {
    this.shared = container?.shared ?? {
      opts,
      maxDepth: opts.maxDepth ?? DEFAULT_MAX_DEPTH,
      maxParts: opts.maxParts ?? DEFAULT_MAX_PARTS,
      maxHeaderBytes: opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      parts: 0,
      defects: [],
    };
    this.defects = this.shared.defects;
    this.headerParent = container?.part;
  }

  /** Feeds the next bytes of the message. */
  write(chunk: Uint8Array): void {
    if (this.ended) throw new Error('MimeParser: write after end');
    if (chunk.length === 0) return;
    const data = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    this.run(false);
  }

  /** Ends the input and returns the root part. */
  end(): MimePart {
    if (!this.ended) {
      this.ended = true;
      this.run(true);
      if (this.mode === 'header') this.finishHeaders(this.buf.length, this.buf.length);
      this.buf = EMPTY;
      this.endSink();
      while (this.frames.length) this.popFrame(true);
    }
    return this.root!;
  }

  private run(final: boolean): void {
    for (;;) {
      if (this.mode === 'header') {
        if (!this.headerStep(final)) return;
      } else if (!this.bodyStep(final)) return;
    }
  }

  /** Scans header lines; returns true when the header block ended and parsing should go on. */
  private headerStep(final: boolean): boolean {
    const buf = this.buf;
    let pos = this.scan;
    for (;;) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) {
        this.scan = pos;
        if (buf.length > this.shared.maxHeaderBytes) {
          throw new MimeLimitError(
            'maxHeaderBytes',
            `header block exceeds ${this.shared.maxHeaderBytes} bytes`,
          );
        }
        if (final && pos < buf.length && !this.isHeaderLine(buf, pos, buf.length)) {
          this.missingSeparator(pos);
          return true;
        }
        return false;
      }
      const end = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
      if (end === pos) {
        this.finishHeaders(pos, nl + 1);
        return true;
      }
      const c = buf[pos];
      if (c === 0x2d && buf[pos + 1] === 0x2d && this.boundaries.length) {
        const m = matchDelimiter(buf, pos, this.boundaries, true);
        if (m.kind === 'delimiter' || m.kind === 'close') {
          this.missingSeparator(pos);
          return true;
        }
      }
      const continuation = (c === 0x20 || c === 0x09) && pos > 0;
      const unixFrom = pos === 0 && !this.root && !this.container && buf.toString('latin1', 0, 5) === 'From ';
      if (!continuation && !unixFrom && !this.isHeaderLine(buf, pos, end)) {
        this.missingSeparator(pos);
        return true;
      }
      pos = nl + 1;
    }
  }

  private missingSeparator(pos: number): void {
    const part = this.finishHeaders(pos, pos);
    this.defect(part, 'MissingHeaderBodySeparator', 'a non-header line ended the header block');
  }

  /** A field line: printable ASCII name, optional WSP (obs-optional), then a colon. */
  private isHeaderLine(buf: Buffer, pos: number, end: number): boolean {
    let i = pos;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c === 0x3a) return i > pos;
      if (c === 0x20 || c === 0x09) break;
      if (c < 0x21 || c > 0x7e) return false;
    }
    if (i === pos) return false;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c === 0x3a) return true;
      if (c !== 0x20 && c !== 0x09) return false;
    }
    return false;
  }

  /** The header block is buf[0, blockEnd); the body starts at bodyStart. */
  private finishHeaders(blockEnd: number, bodyOffset: number): MimePart {
    const s = this.shared;
    if (++s.parts > s.maxParts) throw new MimeLimitError('maxParts', `more than ${s.maxParts} MIME parts`);
    const parent = this.headerParent;
    const depth = parent ? parent.depth + 1 : 0;
    if (depth > s.maxDepth) throw new MimeLimitError('maxDepth', `MIME nesting deeper than ${s.maxDepth}`);
    const block = this.buf.subarray(0, blockEnd);
    const parsed = parseHeaderBlock(block, { maxHeaderBytes: s.maxHeaderBytes });
    let path = '';
    let digest = false;
    if (parent) {
      const n = parent.children.length + 1;
      path = parent.path ? `${parent.path}.${n}` : `${n}`;
      digest = parent.mediaType === 'multipart/digest';
    }
    const part = describePart(new Headers(parsed.fields), path, depth, digest);
    part.headerSize = blockEnd;
    for (const d of parsed.defects) this.defect(part, d.type, d.message);
    for (const d of part.defects.splice(0)) this.defect(part, d.type, d.message);
    if (parent) parent.children.push(part);
    if (!this.root) this.root = part;
    s.opts.onPart?.(part);

    this.buf = this.buf.subarray(bodyOffset);
    this.scan = 0;
    this.mode = 'body';
    this.bodyStart = true;
    if (part.boundary !== undefined) {
      const boundary = Buffer.from(part.boundary, 'utf8');
      this.frames.push({ part, boundary, children: 0 });
      this.boundaries.push(boundary);
      this.sink = new PreambleSink(part);
    } else if (part.isMessage) {
      this.sink = new MessageSink(part, this);
    } else {
      this.sink = new LeafSink(part, this);
    }
    return part;
  }

  /** Body bytes: scans for delimiters of the open multiparts; returns true to continue. */
  private bodyStep(final: boolean): boolean {
    const buf = this.buf;
    const sink = this.sink!;
    if (this.boundaries.length === 0) {
      if (buf.length) sink.write(buf);
      this.buf = EMPTY;
      return false;
    }
    if (this.bodyStart) {
      if (buf.length < 2 && !final && (buf.length === 0 || buf[0] === 0x2d)) return false;
      if (buf[0] === 0x2d && buf[1] === 0x2d) {
        const m = matchDelimiter(buf, 0, this.boundaries, final);
        if (m.kind === 'more') return false;
        if (m.kind !== 'none') {
          this.delimiter(m.kind, m.index, 0, m.lineEnd);
          return true;
        }
      }
      this.bodyStart = false;
    }
    let from = 0;
    for (;;) {
      const i = buf.indexOf(LF_DASH_DASH, from);
      if (i < 0) break;
      const contentEnd = i > 0 && buf[i - 1] === 0x0d ? i - 1 : i;
      const m = matchDelimiter(buf, i + 1, this.boundaries, final);
      if (m.kind === 'more') {
        this.emit(contentEnd);
        return false;
      }
      if (m.kind !== 'none') {
        this.delimiter(m.kind, m.index, contentEnd, m.lineEnd);
        return true;
      }
      from = i + 1;
    }
    if (final) {
      this.emit(buf.length);
      return false;
    }
    // Hold back a trailing line break (and a '-' or two after it): it may start a delimiter.
    let keep = buf.length;
    const lf = buf.lastIndexOf(0x0a);
    if (lf >= 0 && buf.length - lf <= 2 && (lf === buf.length - 1 || buf[lf + 1] === 0x2d)) keep = lf;
    else if (buf[buf.length - 1] === 0x0d) keep = buf.length - 1;
    if (keep === lf && lf > 0 && buf[lf - 1] === 0x0d) keep--;
    this.emit(keep);
    return false;
  }

  /** Sends buf[0, end) to the current sink and drops it from the buffer. */
  private emit(end: number): void {
    if (end > 0) this.sink!.write(this.buf.subarray(0, end));
    this.buf = end === this.buf.length ? EMPTY : this.buf.subarray(end);
  }

  private delimiter(kind: 'delimiter' | 'close', index: number, contentEnd: number, lineEnd: number): void {
    this.emit(contentEnd);
    this.buf = this.buf.subarray(lineEnd - contentEnd);
    this.endSink();
    while (this.frames.length - 1 > index) this.popFrame(true);
    const frame = this.frames[index]!;
    if (kind === 'close') {
      this.popFrame(false);
      this.sink = DISCARD;
      this.mode = 'body';
      this.bodyStart = true;
    } else {
      frame.children++;
      this.headerParent = frame.part;
      this.mode = 'header';
      this.scan = 0;
    }
  }

  private popFrame(unclosed: boolean): void {
    const frame = this.frames.pop()!;
    this.boundaries.pop();
    const part = frame.part;
    if (frame.children === 0) {
      this.defect(part, 'StartBoundaryNotFound', `boundary "${part.boundary}" never found`);
    } else if (unclosed) {
      this.defect(part, 'MissingClosingBoundary', `multipart ended without "--${part.boundary}--"`);
    }
    this.headerParent = this.frames.length ? this.frames[this.frames.length - 1]!.part : this.container?.part;
    this.shared.opts.onPartEnd?.(part);
  }

  private endSink(): void {
    const sink = this.sink;
    this.sink = undefined;
    sink?.end();
  }

  /** Records a defect on a part and in the message-wide list. */
  defect(part: MimePart | undefined, type: string, message: string): void {
    const d: Defect = { type, message, path: part?.path ?? '' };
    part?.defects.push(d);
    this.shared.defects.push(d);
  }

  /** Internal: the options and counters shared with nested-message parsers. */
  get sharedState(): Shared {
    return this.shared;
  }
}

const DISCARD: Sink = { write() {}, end() {} };

/** Keeps the start of a preamble in case the boundary never shows up. */
class PreambleSink implements Sink {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly part: MimePart) {}
  write(chunk: Buffer): void {
    if (this.size >= MAX_KEPT_PREAMBLE) return;
    const take = chunk.subarray(0, MAX_KEPT_PREAMBLE - this.size);
    this.chunks.push(Buffer.from(take));
    this.size += take.length;
  }
  end(): void {
    if (this.size) this.part.preamble = Buffer.concat(this.chunks);
  }
}

/** Decodes a leaf body and hands it to the collectors the options ask for. */
class LeafSink implements Sink {
  protected readonly decoder: ByteCodec;
  private readonly hash: Hash | undefined;
  private readonly chunks: Buffer[] | undefined;
  private readonly onData: MimeParserOptions['onPartData'];

  constructor(
    protected readonly part: MimePart,
    protected readonly parser: MimeParser,
  ) {
    const opts = parser.sharedState.opts;
    this.decoder = createDecoder(part.transferEncoding);
    this.hash = opts.hash ? createHash('sha256') : undefined;
    const collect = opts.collect ?? 'all';
    if (collect === 'all' || (collect === 'text' && part.mediaType.startsWith('text/'))) this.chunks = [];
    this.onData = opts.onPartData;
  }

  write(chunk: Buffer): void {
    const out = this.decoder.push(chunk);
    if (out.length) this.data(out);
  }

  protected data(out: Buffer): void {
    this.part.size += out.length;
    this.hash?.update(out);
    // Input buffers are never written to, so views of them are safe to keep.
    this.chunks?.push(out);
    this.onData?.(this.part, out);
  }

  end(): void {
    const out = this.decoder.end();
    if (out.length) this.data(out);
    for (const d of this.decoder.defects) this.parser.defect(this.part, d.type, d.message);
    if (this.chunks) this.part.body = ownBody(this.chunks);
    if (this.hash) this.part.sha256 = this.hash.digest('hex');
    this.finish();
    this.parser.sharedState.opts.onPartEnd?.(this.part);
  }

  protected finish(): void {}
}

/**
 * One Buffer for a body. A lone chunk may be a view of a much larger input buffer (7bit bodies
 * are not copied while parsing); copy it then, so a kept small body does not pin a big input.
 */
function ownBody(chunks: Buffer[]): Buffer {
  if (chunks.length !== 1) return Buffer.concat(chunks);
  const only = chunks[0]!;
  return only.buffer.byteLength > 2 * only.length + 4096 ? Buffer.from(only) : only;
}

/** A message/rfc822 or message/global body: kept like a leaf and parsed as a nested message. */
class MessageSink extends LeafSink {
  private readonly nested: MimeParser;
  constructor(part: MimePart, parser: MimeParser) {
    super(part, parser);
    this.nested = new MimeParser(parser.sharedState.opts, { part, shared: parser.sharedState });
  }
  protected override data(out: Buffer): void {
    super.data(out);
    this.nested.write(out);
  }
  protected override finish(): void {
    if (this.part.size === 0) {
      this.parser.defect(this.part, 'EmptyEncapsulatedMessage', 'message/* part with an empty body');
      return;
    }
    this.nested.end();
  }
}
