// Boot options of the allocator, per machine: the `slub_debug=` string (slub.c:
// setup_slub_debug(), parse_slub_debug_flags(), kmem_cache_flags()) and the two freelist
// hardening configs, CONFIG_SLAB_FREELIST_HARDENED (s->random) and
// CONFIG_SLAB_FREELIST_RANDOM (s->random_seq), each an option with a seed here.
// Main thread only: caches are created there, and what the options decide is written
// into struct kmem_cache (flags, random, randomSeq), which is all the CPUs read.
import type { Profile } from '../../config.js';
import { SlabError } from '../../errors.js';
import { type Machine, perBufferState } from '../../shm/machine.js';
import { DEBUG_DEFAULT_FLAGS, SLAB_FLAGS } from './geometry.js';

/** A machine's SLUB boot options (the kernel command line and config), given to slubInit(). */
export interface SlubOptions {
  /**
   * What follows `slub_debug=` on the kernel command line (undefined: no debugging).
   * Letters F Z P U T A O and '-' choose the flags, an optional `,cache[,cache...]`
   * limits them to those caches, and 6.x accepts several blocks separated by ';' and a
   * trailing '*' glob. '' (a bare `slub_debug`) is FZPU for every cache.
   */
  debug?: string;
  /** CONFIG_SLAB_FREELIST_HARDENED: free pointers are stored obfuscated with s->random */
  hardened?: boolean;
  /** CONFIG_SLAB_FREELIST_RANDOM: new slabs get a shuffled freelist (s->random_seq) */
  randomFreelist?: boolean;
  /** seed of every s->random and s->random_seq (default 1) */
  seed?: number;
}

/** One `flags[,cache...]` block of a slub_debug string. */
export interface SlubDebugBlock {
  flags: number;
  /** the cache list; null for a block without one (it sets the global flags) */
  slabs: string[] | null;
}

/** A parsed slub_debug string, as setup_slub_debug() leaves it. */
export interface SlubDebugSpec {
  profile: Profile;
  /** slub_debug: the flags every cache not named in a block gets */
  global: number;
  /** slub_debug_string: the blocks with a cache list, searched in order */
  blocks: SlubDebugBlock[];
  /** slub_debug=O: drop the metadata flags of a cache whose slab order they would raise */
  disableHigherOrderDebug: boolean;
}

const LETTERS: Readonly<Record<string, number>> = {
  f: SLAB_FLAGS.consistency_checks,
  z: SLAB_FLAGS.red_zone,
  p: SLAB_FLAGS.poison,
  u: SLAB_FLAGS.store_user,
  t: SLAB_FLAGS.trace,
  a: SLAB_FLAGS.failslab,
};

const unknown = (c: string): SlabError =>
  new SlabError('EINVAL', `slub_debug option '${c}' unknown (expected the letters F Z P U T A O or '-')`);

/**
 * setup_slub_debug(): parse what follows `slub_debug=`. The kernel skips an unknown
 * letter with a message; here it is refused (EINVAL), since it is almost always a typo.
 */
export function parseSlubDebug(text: string, profile: Profile): SlubDebugSpec {
  if (typeof text !== 'string') throw new SlabError('EINVAL', `slub_debug: expected a string, got ${typeof text}`);
  const spec: SlubDebugSpec = { profile, global: DEBUG_DEFAULT_FLAGS, blocks: [], disableHigherOrderDebug: false };
  if (text === '') return spec; // no options: full debugging of every cache
  return profile === '5.4' ? parse54(text, spec) : parse66(text, spec);
}

/**
 * 5.4: one block. A leading ',' means FZPU for the named caches, a leading '-' switches
 * everything off; the rest after the first ',' is kept whole as slub_debug_slabs, and
 * kmem_cache_flags() compares it as a *prefix* of each cache name
 * (strncmp(slub_debug_slabs, name, strlen(slub_debug_slabs))), so `Z,kmalloc-` covers
 * every kmalloc cache and a list `Z,a,b` matches no cache at all (lists came with 5.9).
 */
function parse54(text: string, spec: SlubDebugSpec): SlubDebugSpec {
  let i = 0;
  let flags = DEBUG_DEFAULT_FLAGS;
  if (text[0] !== ',') {
    flags = 0;
    if (text[0] === '-') return { ...spec, global: 0 };
    for (; i < text.length && text[i] !== ','; i++) {
      const c = text[i].toLowerCase();
      if (c === 'o') spec.disableHigherOrderDebug = true;
      else if (Object.hasOwn(LETTERS, c)) flags |= LETTERS[c];
      else throw unknown(text[i]);
    }
  }
  if (text[i] === ',') return { ...spec, global: 0, blocks: [{ flags, slabs: [text.slice(i + 1)] }] };
  return { ...spec, global: flags };
}

/** 6.x: blocks separated by ';', each `flags[,cache,...]` (parse_slub_debug_flags()). */
function parse66(text: string, spec: SlubDebugSpec): SlubDebugSpec {
  let globalChanged = false;
  let global = DEBUG_DEFAULT_FLAGS;
  for (const block of text.split(';')) {
    if (block === '') continue; // completely empty blocks are skipped
    const comma = block.indexOf(',');
    const letters = comma < 0 ? block : block.slice(0, comma);
    let flags = 0;
    if (comma === 0) {
      flags = DEBUG_DEFAULT_FLAGS; // no options but a cache list: full debugging for those
    } else {
      for (const ch of letters) {
        const c = ch.toLowerCase();
        if (c === '-') flags = 0;
        else if (c === 'o') spec.disableHigherOrderDebug = true;
        else if (Object.hasOwn(LETTERS, c)) flags |= LETTERS[c];
        else throw unknown(ch);
      }
    }
    if (comma < 0) {
      global = flags;
      globalChanged = true;
    } else {
      spec.blocks.push({ flags, slabs: block.slice(comma + 1).split(',') });
    }
  }
  // "For backwards compatibility, a single list of flags with list of slabs means
  // debugging is only changed for those slabs, so the global slab_debug should be
  // unchanged" (0 without CONFIG_SLUB_DEBUG_ON).
  if (spec.blocks.length > 0 && !globalChanged) global = 0;
  return { ...spec, global };
}

/**
 * kmem_cache_flags(): the flags a cache named `name` is created with under `spec`.
 * SLAB_NO_USER_FLAGS caches are left alone; a SLAB_NOLEAKTRACE cache does not get the
 * global STORE_USER (6.x). The first block naming the cache wins and its flags replace
 * the global ones; 6.x matches names exactly or, with a trailing '*', as a prefix.
 */
export function kmemCacheFlags(spec: SlubDebugSpec | null, name: string, flags: number): number {
  if (spec === null || flags & SLAB_FLAGS.no_user_flags) return flags;
  if (spec.profile === '5.4') {
    const prefix = spec.blocks[0]?.slabs?.[0];
    if (prefix === undefined) return flags | spec.global;
    return name.startsWith(prefix) ? flags | spec.blocks[0].flags : flags;
  }
  for (const block of spec.blocks) {
    for (const item of block.slabs ?? []) {
      const glob = item.indexOf('*');
      if (glob >= 0 ? name.startsWith(item.slice(0, glob)) : name === item) return flags | block.flags;
    }
  }
  const global = flags & SLAB_FLAGS.noleaktrace ? spec.global & ~SLAB_FLAGS.store_user : spec.global;
  return flags | global;
}

/** The options of one machine, resolved. */
export interface ResolvedSlubOptions {
  debug: SlubDebugSpec | null;
  hardened: boolean;
  randomFreelist: boolean;
  seed: number;
}

const NO_OPTIONS: ResolvedSlubOptions = { debug: null, hardened: false, randomFreelist: false, seed: 1 };
const byMachine = perBufferState<ResolvedSlubOptions>((o) => o); // never changed once set

/** Check and remember a machine's boot options (slubInit() calls this). */
export function setSlubOptions(m: Machine, opts: SlubOptions = {}): ResolvedSlubOptions {
  for (const key of Object.keys(opts)) {
    if (!['debug', 'hardened', 'randomFreelist', 'seed'].includes(key)) {
      throw new SlabError('EINVAL', `unknown SLUB option '${key}' (expected debug, hardened, randomFreelist, seed)`);
    }
  }
  const seed = opts.seed ?? 1;
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) {
    throw new SlabError('EINVAL', `SLUB option seed = ${String(seed)}: expected an integer in 0..2^32-1`);
  }
  const resolved: ResolvedSlubOptions = {
    debug: opts.debug === undefined ? null : parseSlubDebug(opts.debug, m.cfg.profile),
    hardened: opts.hardened === true,
    randomFreelist: opts.randomFreelist === true,
    seed,
  };
  byMachine.set(m.sab, resolved);
  return resolved;
}

/** A machine's boot options (none set: no debugging, no hardening, no randomisation). */
export const slubOptions = (m: Machine): ResolvedSlubOptions => byMachine.get(m.sab) ?? NO_OPTIONS;
