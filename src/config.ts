import { SlabError } from './errors.js';

/**
 * The kernel generations whose SLUB the simulator reproduces, oldest first: 5.4 and 6.6
 * (cpu slabs, the cmpxchg_double era); 6.18, 6.6's SLUB with opt-in percpu sheaves; 7.0,
 * the first release whose SLUB has sheaves for almost every cache and no cpu (partial)
 * slabs (tag slab-for-7.0, docs/sheaves.md).
 */
export type Profile = '5.4' | '6.6' | '6.18' | '7.0';
/** Every profile, oldest first. */
export const PROFILES: readonly Profile[] = ['5.4', '6.6', '6.18', '7.0'];
/** The profiles whose SLUB has percpu sheaves and barns. */
export const SHEAF_PROFILES: readonly Profile[] = ['6.18', '7.0'];
/** Whether the profile's SLUB has sheaves at all (a 6.18 cache has them only when created with a capacity). */
export const hasSheaves = (p: Profile): boolean => SHEAF_PROFILES.includes(p);

/** The shape of a simulated machine. */
export interface MachineConfig {
  /** simulated CPUs, one worker thread each */
  cpus: number;
  /** NUMA nodes; CPUs and memory are split evenly */
  nodes: number;
  /** bytes of simulated physical memory */
  memory: number;
  /** bytes per page, a power of two */
  pageSize: number;
  /** kernel generation to reproduce */
  profile: Profile;
  /** small orders go through per-CPU page lists (struct per_cpu_pages); false: straight to the zone */
  pcp: boolean;
}

interface IntOption {
  name: keyof MachineConfig;
  default: number;
  min: number;
  max: number;
  doc: string;
  powerOfTwo?: boolean;
}

const MiB = 1024 * 1024;

/** The options table: one row per numeric field, the source of defaults, ranges and help. */
export const MACHINE_OPTIONS: readonly IntOption[] = [
  { name: 'cpus', default: 2, min: 1, max: 64, doc: 'simulated CPUs (worker threads)' },
  { name: 'nodes', default: 1, min: 1, max: 8, doc: 'NUMA nodes (CPUs and memory split evenly)' },
  { name: 'memory', default: 64 * MiB, min: MiB / 4, max: 1024 * MiB, doc: 'simulated physical memory in bytes' },
  { name: 'pageSize', default: 4096, min: 4096, max: 65536, powerOfTwo: true, doc: 'page size in bytes' },
];

export const DEFAULT_CONFIG: MachineConfig = {
  cpus: 2,
  nodes: 1,
  memory: 64 * MiB,
  pageSize: 4096,
  profile: '5.4',
  pcp: true,
};

/** The fewest pages a node may have: enough for a slab of the largest order SLUB asks for. */
export const MIN_PAGES_PER_NODE = 64;

const invalid = (msg: string): SlabError => new SlabError('EINVAL', msg);

/** Fill defaults and check every field; throws a SlabError naming the field and its range. */
export function resolveConfig(partial: Partial<MachineConfig> = {}): MachineConfig {
  const cfg: MachineConfig = { ...DEFAULT_CONFIG, ...partial };
  for (const key of Object.keys(partial)) {
    if (!Object.hasOwn(DEFAULT_CONFIG, key))
      throw invalid(`unknown config field '${key}' (expected one of ${Object.keys(DEFAULT_CONFIG).join(', ')})`);
  }
  for (const o of MACHINE_OPTIONS) {
    const v = cfg[o.name] as number;
    if (!Number.isInteger(v) || v < o.min || v > o.max) {
      throw invalid(`config.${o.name} = ${String(v)}: expected an integer in ${o.min}..${o.max} (${o.doc})`);
    }
    if (o.powerOfTwo && (v & (v - 1)) !== 0) {
      throw invalid(`config.${o.name} = ${v}: expected a power of two in ${o.min}..${o.max}`);
    }
  }
  if (!PROFILES.includes(cfg.profile)) {
    throw invalid(`config.profile = ${String(cfg.profile)}: expected one of ${PROFILES.join(', ')}`);
  }
  if (typeof cfg.pcp !== 'boolean') throw invalid(`config.pcp = ${String(cfg.pcp)}: expected true or false`);
  if (cfg.nodes > cfg.cpus) {
    throw invalid(`config.nodes = ${cfg.nodes}: expected at most config.cpus (${cfg.cpus}), every node needs a CPU`);
  }
  const perNode = Math.floor(cfg.memory / cfg.pageSize / cfg.nodes);
  if (perNode < MIN_PAGES_PER_NODE) {
    throw invalid(
      `config.memory = ${cfg.memory}: expected at least ${MIN_PAGES_PER_NODE} pages of ${cfg.pageSize} bytes per node (${cfg.nodes} nodes)`,
    );
  }
  return cfg;
}

/** Parse sizes like 4096, 64K, 64M, 1G. Returns NaN when malformed. */
/** "30s", "2m", "500ms" (a bare number is seconds) -> milliseconds; NaN when malformed. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text.trim());
  return m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm'] : Number.NaN;
}

export function parseSize(text: string): number {
  const m = /^(\d+)(?:([KMG])(?:i?B)?|B)?$/i.exec(text.trim());
  if (!m) return Number.NaN;
  const mult = { '': 1, K: 1024, M: MiB, G: 1024 * MiB }[(m[2] ?? '').toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}
