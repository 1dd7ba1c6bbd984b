// Option parsers for the CLI: each turns text into a value or throws commander's
// InvalidArgumentError with what was expected, which becomes one line and exit code 2.
import { InvalidArgumentError } from 'commander';
import { MACHINE_OPTIONS, PROFILES, type Profile, parseDuration, parseSize } from '../config.js';
import { MAX_SHEAF_CAPACITY } from '../mm/slub/geometry.js';
import { parseSeed } from '../rng.js';

const rangeOf = (name: string): { min: number; max: number } => {
  const o = MACHINE_OPTIONS.find((x) => x.name === name);
  if (!o) throw new Error(`no machine option ${name}`);
  return o;
};

export function intIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
}

export const machineInt = (name: 'cpus' | 'nodes' | 'pageSize'): ((text: string) => number) => {
  const { min, max } = rangeOf(name);
  return intIn(min, max);
};

export function sizeArg(text: string): number {
  const { min, max } = rangeOf('memory');
  const n = parseSize(text);
  if (!(n >= min && n <= max)) throw new InvalidArgumentError(`expected a size like 64M in ${min / 1024}K..${max / 2 ** 20}M`);
  return n;
}

export function profileArg(text: string): Profile {
  if (!PROFILES.includes(text as Profile)) throw new InvalidArgumentError(`expected one of ${PROFILES.join(', ')}`);
  return text as Profile;
}

/** --sheaf-capacity: 1..MAX_SHEAF_CAPACITY (whether the profile has sheaves is the cache's own check). */
export const sheafCapacityArg = (text: string): number => intIn(1, MAX_SHEAF_CAPACITY)(text);

export function seedArg(text: string): number {
  const n = parseSeed(text);
  if (Number.isNaN(n)) throw new InvalidArgumentError('expected an integer in 0..4294967295');
  return n;
}

/** A comma-separated list, each item through `parse`. */
export function listOf<T>(parse: (s: string) => T): (text: string) => T[] {
  return (text) => {
    const items = text.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw new InvalidArgumentError('expected a comma-separated list');
    return items.map(parse);
  };
}

export function oneOf<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    if (!choices.includes(text as T)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    return text as T;
  };
}

export function fraction(text: string): number {
  const x = Number(text);
  if (!/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(text) || !(x >= 0 && x <= 1))
    throw new InvalidArgumentError('expected a number in 0..1');
  return x;
}

/** "min-max" or a single size, each 1..1048576 bytes. */
export function sizeRange(text: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const lo = m ? Number(m[1]) : Number.NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!(lo >= 1 && hi >= lo && hi <= 1 << 20))
    throw new InvalidArgumentError('expected min-max with 1 <= min <= max <= 1048576, e.g. 16-256');
  return [lo, hi];
}

/** "30s", "2m", "500ms" (a bare number is seconds) -> milliseconds, at least 1. */
export function durationArg(text: string): number {
  const ms = parseDuration(text);
  if (!(ms >= 1)) throw new InvalidArgumentError('expected a duration like 30s, 2m or 500ms');
  return ms;
}
