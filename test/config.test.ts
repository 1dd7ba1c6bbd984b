import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CONFIG,
  MACHINE_OPTIONS,
  type MachineConfig,
  MIN_PAGES_PER_NODE,
  parseSize,
  resolveConfig,
} from '../src/config.js';
import { SlabError } from '../src/errors.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** resolveConfig(partial) must throw a SlabError EINVAL whose message contains every `parts`. */
function expectRefused(partial: Record<string, unknown>, ...parts: string[]): SlabError {
  let caught: unknown;
  try {
    resolveConfig(partial as Partial<MachineConfig>);
  } catch (e) {
    caught = e;
  }
  expect(caught, `resolveConfig(${JSON.stringify(partial)}) should throw`).toBeInstanceOf(SlabError);
  const err = caught as SlabError;
  expect(err.code).toBe('EINVAL');
  for (const p of parts) expect(err.message).toContain(p);
  return err;
}

describe('resolveConfig defaults', () => {
  it('no argument and {} give the documented defaults', () => {
    const expected = { cpus: 2, nodes: 1, memory: 64 * MiB, pageSize: 4096, profile: '5.4', pcp: true };
    expect(resolveConfig()).toEqual(expected);
    expect(resolveConfig({})).toEqual(expected);
    expect(DEFAULT_CONFIG).toEqual(expected);
  });

  it('the options table agrees with DEFAULT_CONFIG', () => {
    for (const o of MACHINE_OPTIONS) expect(DEFAULT_CONFIG[o.name]).toBe(o.default);
  });

  it('returns a fresh object: overriding one field keeps the others, defaults are not mutated', () => {
    const cfg = resolveConfig({ cpus: 4 });
    expect(cfg).toEqual({ ...DEFAULT_CONFIG, cpus: 4 });
    expect(cfg).not.toBe(DEFAULT_CONFIG);
    cfg.cpus = 7;
    expect(DEFAULT_CONFIG.cpus).toBe(2);
  });
});

describe('resolveConfig limits', () => {
  it('cpus: 0 and 65 refused, 1 and 64 accepted', () => {
    expectRefused({ cpus: 0 }, 'config.cpus', '1..64');
    expectRefused({ cpus: 65 }, 'config.cpus', '1..64');
    expectRefused({ cpus: 1.5 }, 'config.cpus', '1..64');
    expectRefused({ cpus: Number.NaN }, 'config.cpus', '1..64');
    expect(resolveConfig({ cpus: 1 }).cpus).toBe(1);
    expect(resolveConfig({ cpus: 64 }).cpus).toBe(64);
  });

  it('nodes: 0 and 9 refused, 1 and 8 accepted', () => {
    expectRefused({ nodes: 0, cpus: 16 }, 'config.nodes', '1..8');
    expectRefused({ nodes: 9, cpus: 16 }, 'config.nodes', '1..8');
    expect(resolveConfig({ nodes: 1 }).nodes).toBe(1);
    expect(resolveConfig({ nodes: 8, cpus: 8 }).nodes).toBe(8);
  });

  it('nodes > cpus refused (every node needs a CPU); nodes == cpus accepted', () => {
    expectRefused({ cpus: 2, nodes: 3 }, 'config.nodes', 'config.cpus (2)');
    expectRefused({ cpus: 1, nodes: 8 }, 'config.nodes', 'config.cpus (1)');
    expect(resolveConfig({ cpus: 3, nodes: 3 }).nodes).toBe(3);
  });

  it('memory: below 256 KiB and above 1 GiB refused, exactly 256 KiB and 1 GiB accepted', () => {
    const range = `${MiB / 4}..${GiB}`;
    expectRefused({ memory: MiB / 4 - 1 }, 'config.memory', range);
    expectRefused({ memory: 0 }, 'config.memory', range);
    expectRefused({ memory: GiB + 1 }, 'config.memory', range);
    expectRefused({ memory: 2 * GiB }, 'config.memory', range);
    expect(resolveConfig({ memory: MiB / 4 }).memory).toBe(MiB / 4);
    expect(resolveConfig({ memory: GiB }).memory).toBe(GiB);
  });

  it('pageSize: not a power of two, below 4096 or above 65536 refused; 4096 and 65536 accepted', () => {
    expectRefused({ pageSize: 6144 }, 'config.pageSize', 'power of two', '4096..65536');
    expectRefused({ pageSize: 4097 }, 'config.pageSize', 'power of two', '4096..65536');
    expectRefused({ pageSize: 2048 }, 'config.pageSize', '4096..65536');
    expectRefused({ pageSize: 0 }, 'config.pageSize', '4096..65536');
    expectRefused({ pageSize: 131072 }, 'config.pageSize', '4096..65536');
    expect(resolveConfig({ pageSize: 4096 }).pageSize).toBe(4096);
    expect(resolveConfig({ pageSize: 16384 }).pageSize).toBe(16384);
    expect(resolveConfig({ pageSize: 65536 }).pageSize).toBe(65536);
  });

  it("profile: only '5.4' and '6.6'", () => {
    expectRefused({ profile: '5.10' }, 'config.profile', '5.4, 6.6');
    expectRefused({ profile: '' }, 'config.profile', '5.4, 6.6');
    expectRefused({ profile: 5.4 }, 'config.profile', '5.4, 6.6');
    expect(resolveConfig({ profile: '5.4' }).profile).toBe('5.4');
    expect(resolveConfig({ profile: '6.6' }).profile).toBe('6.6');
  });

  it('pcp: true or false, nothing else', () => {
    expect(resolveConfig({ pcp: false }).pcp).toBe(false);
    expectRefused({ pcp: 1 }, 'config.pcp', 'true or false');
    expectRefused({ pcp: 'no' }, 'config.pcp', 'true or false');
  });

  it(`too little memory per node (fewer than ${MIN_PAGES_PER_NODE} pages) refused; exactly ${MIN_PAGES_PER_NODE} accepted`, () => {
    // 1 MiB of 64 KiB pages: 16 pages
    expectRefused({ memory: MiB, pageSize: 65536 }, 'config.memory', `at least ${MIN_PAGES_PER_NODE} pages`, '65536 bytes');
    // 1 MiB over 8 nodes of 4 KiB pages: 32 pages per node
    expectRefused({ memory: MiB, cpus: 8, nodes: 8 }, 'config.memory', `at least ${MIN_PAGES_PER_NODE} pages`, '8 nodes');
    // exactly 64 pages per node
    expect(resolveConfig({ memory: 4 * MiB, pageSize: 65536 }).memory).toBe(4 * MiB);
    expect(resolveConfig({ memory: MiB, cpus: 4, nodes: 4 }).nodes).toBe(4);
    expectRefused({ memory: MiB + 4096 * 3, cpus: 5, nodes: 5 }, 'config.memory', `at least ${MIN_PAGES_PER_NODE} pages`);
  });

  it('an unknown field is refused, naming it and the known fields', () => {
    expectRefused({ cpu: 2 }, "'cpu'", 'cpus, nodes, memory, pageSize, profile, pcp');
    expectRefused({ pagesize: 4096 }, "'pagesize'");
  });

  it('field names inherited from Object.prototype are unknown fields too', () => {
    // `key in DEFAULT_CONFIG` also sees the prototype chain
    expectRefused({ constructor: 1 }, "'constructor'");
    expectRefused({ toString: 1 }, "'toString'");
    expectRefused({ hasOwnProperty: 1 }, "'hasOwnProperty'");
  });
});

describe('parseSize', () => {
  it('plain bytes and K/M/G suffixes (binary multiples, any case, optional B/iB)', () => {
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('64K')).toBe(64 * 1024);
    expect(parseSize('64M')).toBe(64 * MiB);
    expect(parseSize('64m')).toBe(64 * MiB);
    expect(parseSize('1G')).toBe(GiB);
    expect(parseSize('64MiB')).toBe(64 * MiB);
    expect(parseSize('64MB')).toBe(64 * MiB);
    expect(parseSize('  64M  ')).toBe(64 * MiB);
    expect(parseSize('0')).toBe(0);
  });

  it('malformed text gives NaN', () => {
    for (const bad of ['', 'abc', 'M', '1.5M', '-1', '+1', '64X', '64 M', '0x10', '1e6', '64MM', '64Mi']) {
      expect(parseSize(bad), JSON.stringify(bad)).toBeNaN();
    }
  });

  it("'iB' without a K/M/G prefix is malformed", () => {
    expect(parseSize('64iB')).toBeNaN();
  });
});
