// Reading a saved run (the JSON of `slabsim run --json`) back for the offline reports:
// every field the reports use is checked, so that a bad file is one clear message
// (SlabError EINVAL, exit 2 on the command line) instead of NaN in a table.
import { readFileSync } from 'node:fs';
import { SlabError } from '../errors.js';
import { hasSheaves, PROFILES, type Profile } from '../config.js';
import { PROFILE_STAT_ITEMS } from '../shm/structs.js';
import { RUN_SCHEMA, type RunReport } from '../workload/run.js';

type Json = unknown;

class Bad extends Error {}

const isObj = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

function field(o: Json, key: string, where: string): Json {
  if (!isObj(o)) throw new Bad(`${where}: expected an object`);
  if (!(key in o)) throw new Bad(`${where}.${key}: missing`);
  return o[key];
}

function uint(o: Json, key: string, where: string): number {
  const v = field(o, key, where);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Bad(`${where}.${key}: expected an integer >= 0`);
  return v;
}

function str(o: Json, key: string, where: string): string {
  const v = field(o, key, where);
  if (typeof v !== 'string') throw new Bad(`${where}.${key}: expected a string`);
  return v;
}

function arr(o: Json, key: string, where: string): Json[] {
  const v = field(o, key, where);
  if (!Array.isArray(v)) throw new Bad(`${where}.${key}: expected an array`);
  return v;
}

function uintArray(o: Json, key: string, where: string): void {
  arr(o, key, where).forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw new Bad(`${where}.${key}[${i}]: expected an integer >= 0`);
  });
}

function strArray(o: Json, key: string, where: string): void {
  arr(o, key, where).forEach((v, i) => {
    if (typeof v !== 'string') throw new Bad(`${where}.${key}[${i}]: expected a string`);
  });
}

function nodeOrNull(o: Json, key: string, where: string, nodes: number): void {
  const v = field(o, key, where);
  if (v === null) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= nodes)
    throw new Bad(`${where}.${key}: expected null or a node number`);
}

const CACHE_UINTS = [
  'flags',
  'object_size',
  'slab_size',
  'align',
  'order',
  'objs_per_slab',
  'min_partial',
  'cpu_partial',
  'remote_node_defrag_ratio',
  'slabs',
  'partial',
  'cpu_slabs',
  'objects',
  'total_objects',
  'objects_partial',
] as const;
const NODE_UINTS = ['node', 'slabs', 'partial', 'total_objects', 'objects', 'objects_partial', 'cpu_slabs'] as const;
const CPU_UINTS = ['cpu', 'partial_slabs', 'partial_objects'] as const;

/** Check a parsed run; throws Bad naming the first field that is missing or wrong. */
function check(j: Json): RunReport {
  if (str(j, 'schema', 'run') !== RUN_SCHEMA) throw new Bad(`run.schema: expected '${RUN_SCHEMA}'`);
  const config = field(j, 'config', 'run');
  const cpus = uint(config, 'cpus', 'run.config');
  const nodes = uint(config, 'nodes', 'run.config');
  const pageSize = uint(config, 'pageSize', 'run.config');
  if (cpus < 1 || nodes < 1 || pageSize < 1) throw new Bad('run.config: cpus, nodes and pageSize must be positive');
  const profile = str(config, 'profile', 'run.config');
  if (!(PROFILES as readonly string[]).includes(profile))
    throw new Bad(`run.config.profile: expected one of ${PROFILES.join(', ')}`);
  const pages = field(j, 'pages', 'run');
  for (const k of ['total', 'free', 'slab']) uint(pages, k, 'run.pages');
  arr(pages, 'buddyinfo', 'run.pages').forEach((b, i) => {
    const w = `run.pages.buddyinfo[${i}]`;
    uint(b, 'node', w);
    uintArray(b, 'nr_free', w);
  });
  const names = new Set<string>();
  arr(j, 'caches', 'run').forEach((c, i) => {
    const w = `run.caches[${i}]`;
    for (const k of ['name', 'sysfs_name']) str(c, k, w);
    for (const k of CACHE_UINTS) uint(c, k, w);
    if (hasSheaves(profile as Profile)) uint(c, 'sheaf_capacity', w);
    if (uint(c, 'order', w) > 20) throw new Bad(`${w}.order: expected 0..20`);
    strArray(c, 'aliases', w);
    strArray(c, 'flag_names', w);
    for (const n of [str(c, 'name', w), ...(field(c, 'aliases', w) as string[])]) {
      if (names.has(n)) throw new Bad(`${w}: the name '${n}' belongs to two caches`);
      names.add(n);
    }
    arr(c, 'per_node', w).forEach((n, k) => {
      for (const f of NODE_UINTS) uint(n, f, `${w}.per_node[${k}]`);
      if (uint(n, 'node', `${w}.per_node[${k}]`) >= nodes) throw new Bad(`${w}.per_node[${k}].node: expected < ${nodes}`);
    });
    arr(c, 'per_cpu', w).forEach((p, k) => {
      for (const f of CPU_UINTS) uint(p, f, `${w}.per_cpu[${k}]`);
      nodeOrNull(p, 'cpu_slab_node', `${w}.per_cpu[${k}]`, nodes);
      nodeOrNull(p, 'partial_node', `${w}.per_cpu[${k}]`, nodes);
    });
    const stats = field(c, 'stats', w);
    for (const item of PROFILE_STAT_ITEMS[profile as Profile]) {
      const sw = `${w}.stats.${item}`;
      const v = field(stats, item, `${w}.stats`);
      uint(v, 'total', sw);
      uintArray(v, 'per_cpu', sw);
    }
  });
  return j as RunReport;
}

/** Parse a run's JSON text; `source` names it in the message of a SlabError EINVAL. */
export function parseRunReport(text: string, source: string): RunReport {
  let j: Json;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new SlabError('EINVAL', `${source}: not JSON (${(e as Error).message})`);
  }
  try {
    return check(j);
  } catch (e) {
    if (e instanceof Bad)
      throw new SlabError('EINVAL', `${source}: not a slabsim run (${RUN_SCHEMA}) of this version: ${e.message}`);
    throw e;
  }
}

/** Read and parse a saved run. */
export function readRunReport(path: string): RunReport {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new SlabError('EINVAL', `cannot read '${path}': ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  return parseRunReport(text, path);
}
