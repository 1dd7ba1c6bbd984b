// The one source of randomness in the simulated world: seeded, reproducible, and the
// same in every thread. xoshiro128** seeded through splitmix32.

/** The seeded random source of the simulated world (xoshiro128**): the same seed, the same sequence, on every thread. */
export class Rng {
  /**
   * xoshiro128's state a, b, c, d as int32 words. A typed array, not four fields: the
   * words do not fit V8's small integers, so fields would be boxed numbers.
   */
  private readonly s = new Int32Array(4);

  /** `seed` and `stream` together pick the sequence: derive CPU i's stream as (seed, i). */
  constructor(seed: number, stream = 0) {
    this.reseed(seed, stream);
  }

  /** Start over: the sequence of `new Rng(seed, stream)` (for a reused object). */
  reseed(seed: number, stream = 0): void {
    let x = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const s = this.s;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    s[3] |= 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const s = this.s;
    const a = s[0];
    const b = s[1];
    const c = s[2] ^ a;
    const d = s[3] ^ b;
    s[0] = a ^ d;
    s[1] = b ^ c;
    s[2] = c ^ (b << 9);
    s[3] = rotl(d, 11);
    return Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
  }

  /** A uniform integer in [0, n), n >= 1. */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** Parse a seed given on a command line: a non-negative integer below 2^32. */
export function parseSeed(text: string): number {
  if (!/^\d+$/.test(text)) return Number.NaN;
  const n = Number(text);
  return n <= 0xffffffff ? n : Number.NaN;
}
