/**
 * A set for objects that come and go all the time (open sessions, deliveries in progress), kept
 * in an array: each member holds its own position, so adding and removing cost no hashing and
 * never rebuild a table.
 *
 * Why not a Set: with constant churn V8 keeps rebuilding a Set's (or Map's) hash table; the
 * tables live long enough to be promoted, and a promoted table that was replaced still points at
 * the members it held, keeping them alive through every young-generation collection until the next
 * full one. Measured on the SMTP server: every session's whole object graph (socket, streams,
 * transaction, delivery) was promoted to the old generation that way, about 7 KB per message,
 * and the young collections spent their time copying it.
 *
 * An object belongs to at most one LiveSet at a time per set; members are compared by identity.
 */
export class LiveSet<T extends object> {
  private readonly items: T[] = [];
  /** Each set writes its members' positions under its own key. */
  private readonly slot = Symbol('LiveSet position');

  get size(): number {
    return this.items.length;
  }

  add(member: T): void {
    if (this.has(member)) return;
    this.setSlot(member, this.items.push(member) - 1);
  }

  has(member: T): boolean {
    const at = this.position(member);
    return at !== undefined && this.items[at] === member;
  }

  /** Removes `member`; the last member takes its place. */
  delete(member: T): boolean {
    if (!this.has(member)) return false;
    const at = this.position(member)!;
    const last = this.items.pop()!;
    if (last !== member) {
      this.items[at] = last;
      this.setSlot(last, at);
    }
    this.setSlot(member, undefined);
    return true;
  }

  /** A snapshot: members may be added or removed while it is iterated. */
  values(): T[] {
    return this.items.slice();
  }

  [Symbol.iterator](): Iterator<T> {
    return this.values()[Symbol.iterator]();
  }

  private position(member: T): number | undefined {
    return (member as Record<symbol, number | undefined>)[this.slot];
  }

  private setSlot(member: T, at: number | undefined): void {
    (member as Record<symbol, number | undefined>)[this.slot] = at;
  }
}
