// A hash table from a traced pointer (two 32-bit halves) to an int, in typed arrays:
// open addressing with linear probing and backward-shift deletion (no tombstones), so its
// memory is set by the most keys it ever held at once (live objects), never by how many
// events went through it, and a lookup allocates nothing.

const MIN_CAPACITY = 1024;

export class PtrTable {
  private his: Uint32Array;
  private los: Uint32Array;
  private vals: Int32Array;
  private used: Uint8Array;
  private mask: number;
  /** keys held */
  size = 0;
  /** the most keys held at once */
  peak = 0;

  constructor(capacity = MIN_CAPACITY) {
    const cap = 1 << Math.ceil(Math.log2(Math.max(MIN_CAPACITY, capacity)));
    this.his = new Uint32Array(cap);
    this.los = new Uint32Array(cap);
    this.vals = new Int32Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /** slots allocated (a power of two, at least twice `peak`) */
  get capacity(): number {
    return this.mask + 1;
  }

  private home(hi: number, lo: number): number {
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 13)) & this.mask;
  }

  /** The slot holding the key, or -1. */
  private find(hi: number, lo: number): number {
    for (let i = this.home(hi, lo); ; i = (i + 1) & this.mask) {
      if (this.used[i] === 0) return -1;
      if (this.los[i] === lo && this.his[i] === hi) return i;
    }
  }

  /** The value of the key, or -1 when absent. */
  get(hi: number, lo: number): number {
    const i = this.find(hi, lo);
    return i < 0 ? -1 : this.vals[i];
  }

  has(hi: number, lo: number): boolean {
    return this.find(hi, lo) >= 0;
  }

  /** Set the key's value (value >= 0). */
  set(hi: number, lo: number, value: number): void {
    if ((this.size + 1) * 2 > this.capacity) this.grow();
    let i = this.home(hi, lo);
    for (; this.used[i] !== 0; i = (i + 1) & this.mask) {
      if (this.los[i] === lo && this.his[i] === hi) {
        this.vals[i] = value;
        return;
      }
    }
    this.used[i] = 1;
    this.his[i] = hi;
    this.los[i] = lo;
    this.vals[i] = value;
    if (++this.size > this.peak) this.peak = this.size;
  }

  /** Remove the key; returns its value, or -1 when it was absent. */
  delete(hi: number, lo: number): number {
    let i = this.find(hi, lo);
    if (i < 0) return -1;
    const value = this.vals[i];
    this.size--;
    // Backward shift: move later entries of the probe run into the hole when their home allows.
    for (let j = (i + 1) & this.mask; this.used[j] !== 0; j = (j + 1) & this.mask) {
      const k = this.home(this.his[j], this.los[j]);
      const movable = i <= j ? k <= i || k > j : k <= i && k > j;
      if (!movable) continue;
      this.his[i] = this.his[j];
      this.los[i] = this.los[j];
      this.vals[i] = this.vals[j];
      i = j;
    }
    this.used[i] = 0;
    return value;
  }

  /** Every key and value (for the end of a replay). */
  forEach(f: (hi: number, lo: number, value: number) => void): void {
    for (let i = 0; i <= this.mask; i++) if (this.used[i] !== 0) f(this.his[i], this.los[i], this.vals[i]);
  }

  private grow(): void {
    const { his, los, vals, used } = this;
    const cap = this.capacity * 2;
    this.his = new Uint32Array(cap);
    this.los = new Uint32Array(cap);
    this.vals = new Int32Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    const peak = this.peak;
    for (let i = 0; i < used.length; i++) if (used[i] !== 0) this.set(his[i], los[i], vals[i]);
    this.peak = peak;
  }
}

/**
 * Integer records in parallel growable columns with a free list: slot numbers stay valid
 * until released, and the columns grow to the most records held at once. Read a column
 * through `c` after alloc() (growing replaces the arrays, not `c`).
 */
export class Slots<K extends string> {
  readonly c: Record<K, Int32Array>;
  private free: Int32Array;
  private nFree = 0;
  private next = 0;

  constructor(
    private readonly names: readonly K[],
    capacity = MIN_CAPACITY,
  ) {
    this.c = Object.fromEntries(names.map((n) => [n, new Int32Array(capacity)])) as Record<K, Int32Array>;
    this.free = new Int32Array(capacity);
  }

  /** the most slots held at once */
  get highWater(): number {
    return this.next;
  }

  alloc(): number {
    if (this.nFree > 0) return this.free[--this.nFree];
    if (this.next === this.free.length) this.grow();
    return this.next++;
  }

  release(slot: number): void {
    this.free[this.nFree++] = slot;
  }

  private grow(): void {
    const cap = this.free.length * 2;
    for (const n of this.names) {
      const col = new Int32Array(cap);
      col.set(this.c[n]);
      this.c[n] = col;
    }
    const f = new Int32Array(cap);
    f.set(this.free);
    this.free = f;
  }
}
