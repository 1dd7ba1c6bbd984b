// Call sites and cache names by number: each distinct name is decoded to a string once
// and kept; a line's name is found by its bytes, as a 53-bit hash of them (two FNV-1a
// hashes), so reading a trace makes no string per event. Two names of one hash would be
// taken as one: with 10^4 distinct names the chance of any such pair is about 10^-8.

export class Names {
  /** the names, by number */
  readonly list: string[] = [];
  private readonly byHash = new Map<number, number>();

  /** The number of the name in u[a, b). */
  id(u: Buffer, a: number, b: number): number {
    let h1 = 0x811c9dc5;
    let h2 = 0x050c5d1f;
    for (let i = a; i < b; i++) {
      const c = u[i];
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x0100019d);
    }
    const key = (h1 >>> 0) * 0x200000 + ((h2 ^ (b - a)) & 0x1fffff);
    let id = this.byHash.get(key);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(u.toString('latin1', a, b)); // a copy: the chunk can go
      this.byHash.set(key, id);
    }
    return id;
  }

  /** The number of a name given as a string. */
  idOf(name: string): number {
    const u = Buffer.from(name, 'latin1');
    return this.id(u, 0, u.length);
  }
}
