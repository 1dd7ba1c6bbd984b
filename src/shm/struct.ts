// defineStruct(): a field table becomes word offsets (32-bit words) and a stride.
// 64-bit fields are aligned to two words so that `wordIndex >> 1` indexes a
// BigInt64Array; the checks run when the layout module loads.

export type FieldType = 'u32' | 'u64';
export type FieldTable = Readonly<Record<string, FieldType | readonly ['u32', number]>>;

export type Struct<T extends FieldTable> = { readonly [K in keyof T]: number } & {
  /** words per element, including padding */
  readonly STRIDE: number;
  readonly NAME: string;
};

/**
 * Lay out `fields` in order. `['u32', n]` is an array of n words. `padBytes` pads the
 * stride to a multiple of that many bytes (per-CPU regions use 128 against false sharing).
 */
export function defineStruct<T extends FieldTable>(name: string, fields: T, padBytes = 8): Struct<T> {
  const out: Record<string, number | string> = { NAME: name };
  let w = 0;
  for (const [key, type] of Object.entries(fields)) {
    if (type === 'u64') {
      w = (w + 1) & ~1;
      out[key] = w;
      w += 2;
    } else if (type === 'u32') {
      out[key] = w;
      w += 1;
    } else {
      out[key] = w;
      w += type[1];
    }
  }
  const padWords = padBytes / 4;
  out.STRIDE = Math.ceil(w / padWords) * padWords;
  for (const [key, type] of Object.entries(fields)) {
    if (type === 'u64' && (out[key] as number) % 2 !== 0) throw new Error(`${name}.${key}: 64-bit field not 8-byte aligned`);
  }
  if ((out.STRIDE as number) % 2 !== 0) throw new Error(`${name}: stride not 8-byte aligned`);
  // Built in one go (not by adding keys one at a time) so that V8 keeps it a fast-mode
  // object whose frozen fields the compiler can fold into constants.
  const struct = Object.freeze(Object.fromEntries(Object.entries(out))) as unknown as Struct<T>;
  layouts.set(
    struct,
    Object.entries(fields).map(([key, type]) => [key, out[key] as number, type]),
  );
  return struct;
}

/** Each struct's fields in order: name, word offset, type (kept apart so the struct objects stay constant-foldable). */
const layouts = new WeakMap<object, Array<[string, number, FieldType | readonly ['u32', number]]>>();

/**
 * The field of `struct` at word `off` of one element: `name`, `name[i]` for an array,
 * `name.lo` / `name.hi` for a 64-bit field; null in padding.
 */
export function fieldAt(struct: { readonly STRIDE: number }, off: number): string | null {
  for (const [key, at, type] of layouts.get(struct) ?? []) {
    if (type === 'u32' && off === at) return key;
    if (type === 'u64' && (off === at || off === at + 1)) return `${key}.${off === at ? 'lo' : 'hi'}`;
    if (Array.isArray(type) && off >= at && off < at + type[1]) return `${key}[${off - at}]`;
  }
  return null;
}

/** Round a word count up to a multiple of `words`. */
export const alignWords = (w: number, words: number): number => Math.ceil(w / words) * words;
