// The one source of randomness in the simulated world: seeded, reproducible, and the
// same in every thread. xoshiro128** seeded through splitmix32.

/** The seeded random source of the simulated world (xoshiro128**): the same seed, the same sequence, on every thread. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` and `stream` together pick the sequence: derive CPU i's stream as (seed, i). */
  constructor(seed: number, stream = 0) {
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
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
