// Call sites and cache names by number: each distinct name is decoded to a string once
// and kept; a line's name is found by its bytes (a hash, then a byte compare), so reading
// a trace makes no string per event.

export class Names {
  /** the names, by number */
  readonly list: string[] = [];
  private readonly bytes: Buffer[] = [];
  /** hash -> number, or a list of numbers for hashes that collide */
  private readonly byHash = new Map<number, number | number[]>();

  /** The number of the name in u[a, b). */
  id(u: Buffer, a: number, b: number): number {
    let h = 0x811c9dc5;
    for (let i = a; i < b; i++) h = Math.imul(h ^ u[i], 0x01000193);
    const hit = this.byHash.get(h);
    if (hit !== undefined) {
      if (typeof hit === 'number') {
        if (this.same(hit, u, a, b)) return hit;
      } else {
        for (const id of hit) if (this.same(id, u, a, b)) return id;
      }
    }
    const id = this.list.length;
    const own = Buffer.from(u.subarray(a, b)); // a copy: the chunk can go
    this.bytes.push(own);
    this.list.push(own.toString('latin1'));
    this.byHash.set(h, hit === undefined ? id : typeof hit === 'number' ? [hit, id] : [...hit, id]);
    return id;
  }

  /** The number of a name given as a string. */
  idOf(name: string): number {
    const u = Buffer.from(name, 'latin1');
    return this.id(u, 0, u.length);
  }

  private same(id: number, u: Buffer, a: number, b: number): boolean {
    const x = this.bytes[id];
    if (x.length !== b - a) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== u[a + i]) return false;
    return true;
  }
}
