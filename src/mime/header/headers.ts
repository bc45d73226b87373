/**
 * A case-insensitive multi-map over raw header fields (RFC 5322 §1.2.2: field names are
 * case-insensitive). Order is kept: `get` returns the first occurrence, which for trace fields is
 * the newest one, and `fields` is the message's own order.
 */
import type { HeaderField } from './parse-block.js';

export class Headers {
  readonly fields: HeaderField[];
  private index: Map<string, HeaderField[]> | undefined;

  constructor(fields: HeaderField[] = []) {
    this.fields = fields;
  }

  private map(): Map<string, HeaderField[]> {
    if (this.index === undefined) {
      const m = new Map<string, HeaderField[]>();
      for (const f of this.fields) {
        const key = f.name.toLowerCase();
        const list = m.get(key);
        if (list) list.push(f);
        else m.set(key, [f]);
      }
      this.index = m;
    }
    return this.index;
  }

  /** Unfolded value of the first field with this name. */
  get(name: string): string | undefined {
    return this.map().get(name.toLowerCase())?.[0]?.value;
  }

  /** Unfolded values of every field with this name, in message order. */
  getAll(name: string): string[] {
    return (this.map().get(name.toLowerCase()) ?? []).map((f) => f.value);
  }

  /** First field with this name, raw bytes included. */
  getField(name: string): HeaderField | undefined {
    return this.map().get(name.toLowerCase())?.[0];
  }

  /** Every field with this name, in message order. */
  getFields(name: string): HeaderField[] {
    return this.map().get(name.toLowerCase()) ?? [];
  }

  has(name: string): boolean {
    return this.map().has(name.toLowerCase());
  }

  [Symbol.iterator](): Iterator<HeaderField> {
    return this.fields[Symbol.iterator]();
  }
}
