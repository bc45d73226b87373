/**
 * What every store backend does with a delivery's bytes as they are written: copy them (the caller
 * may reuse its buffer as soon as `write` returns), hash and count them, and cut them into chunks
 * of exactly `chunkSize` octets (the last one shorter), each handed over as one fresh, exactly
 * sized array that may be transferred to another thread.
 */
import { createHash, type Hash } from 'node:crypto';

export class ChunkCutter {
  private readonly parts: Uint8Array[] = [];
  private partsLength = 0;
  private readonly hash: Hash = createHash('sha256');
  /** Octets pushed so far. */
  size = 0;

  constructor(private readonly chunkSize: number) {}

  /** Takes `chunk`; calls `onFull` with each chunk that became complete. */
  push(chunk: Uint8Array, onFull: (data: Uint8Array) => void): void {
    this.hash.update(chunk);
    this.size += chunk.byteLength;
    let off = 0;
    while (off < chunk.byteLength) {
      const take = Math.min(chunk.byteLength - off, this.chunkSize - this.partsLength);
      const copy = new Uint8Array(take);
      copy.set(chunk.subarray(off, off + take));
      this.parts.push(copy);
      this.partsLength += take;
      off += take;
      if (this.partsLength === this.chunkSize) onFull(this.take());
    }
  }

  /** The buffered rest (the last, short chunk), or null when nothing is buffered. */
  rest(): Uint8Array | null {
    return this.parts.length > 0 ? this.take() : null;
  }

  /** Hex sha256 of everything pushed; call once, at the end. */
  digest(): string {
    return this.hash.digest('hex');
  }

  /** Drops what is buffered (abort). */
  clear(): void {
    this.parts.length = 0;
    this.partsLength = 0;
  }

  private take(): Uint8Array {
    const out = this.parts.length === 1 ? this.parts[0]! : new Uint8Array(this.partsLength);
    if (this.parts.length > 1) {
      let off = 0;
      for (const p of this.parts) {
        out.set(p, off);
        off += p.byteLength;
      }
    }
    this.clear();
    return out;
  }
}
