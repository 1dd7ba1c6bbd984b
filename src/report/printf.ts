// The part of C's printf that the kernel's and slabinfo.c's formats use, so that their
// format strings can be kept here verbatim: %[-0][width][hh|h|l|ll|z](d|i|u|s|c) and %%.
// Unsigned conversions of negative numbers wrap as in C (%u at 32 bits, %lu at 64 bits).

const SPEC = /%([-0]*)(\d*)(hh|h|ll|l|z)?([diusc%])/g;

export type PrintfArg = number | bigint | string;

export function sprintf(format: string, ...args: PrintfArg[]): string {
  let next = 0;
  return format.replace(SPEC, (whole, flags: string, width: string, length: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    if (next >= args.length) throw new Error(`sprintf: too few arguments for '${format}'`);
    const arg = args[next++];
    let text: string;
    switch (conv) {
      case 's':
        text = String(arg);
        break;
      case 'c':
        text = typeof arg === 'number' ? String.fromCharCode(arg) : String(arg).slice(0, 1);
        break;
      case 'u':
        text = unsigned(arg, length === 'l' || length === 'll' || length === 'z' ? 64n : 32n);
        break;
      default:
        text = BigInt(integer(arg)).toString();
    }
    const w = width === '' ? 0 : Number(width);
    if (text.length >= w) return text;
    if (flags.includes('-')) return text.padEnd(w);
    if (flags.includes('0') && conv !== 's' && conv !== 'c') {
      const neg = text.startsWith('-');
      return (neg ? '-' : '') + text.slice(neg ? 1 : 0).padStart(w - (neg ? 1 : 0), '0');
    }
    return text.padStart(w);
  });
}

function integer(arg: PrintfArg): bigint | number {
  if (typeof arg === 'bigint') return arg;
  const n = Number(arg);
  if (!Number.isFinite(n)) throw new Error(`sprintf: ${String(arg)} is not an integer`);
  return Math.trunc(n);
}

function unsigned(arg: PrintfArg, bits: bigint): string {
  let v = BigInt(integer(arg));
  const mod = 1n << bits;
  v %= mod;
  if (v < 0n) v += mod;
  return v.toString();
}
