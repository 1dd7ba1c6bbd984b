import { describe, expect, it } from 'vitest';
import type { MachineConfig } from '../src/config.js';
import { SlabError } from '../src/errors.js';
import { attach, cpuNode, cpuOff, create, type Machine } from '../src/shm/machine.js';
import { defineStruct } from '../src/shm/struct.js';
import { CPU, GLOBAL, LAYOUT_VERSION, MAGIC, MAX_ORDER, NODE, PAGE, PCP } from '../src/shm/structs.js';

const MiB = 1024 * 1024;
const STRUCTS = { GLOBAL, NODE, PAGE, CPU, PCP } as const;

/** Field offsets of a struct (everything but STRIDE and NAME). */
const fieldsOf = (s: object): Array<[string, number]> =>
  Object.entries(s).filter(([k]) => k !== 'STRIDE' && k !== 'NAME') as Array<[string, number]>;

/** A machine-shaped buffer copy, optionally of another length (truncated or zero-extended). */
function copyOf(sab: SharedArrayBuffer, byteLength = sab.byteLength): SharedArrayBuffer {
  const out = new SharedArrayBuffer(byteLength);
  new Uint8Array(out).set(new Uint8Array(sab, 0, Math.min(byteLength, sab.byteLength)));
  return out;
}

function expectLayoutError(arg: unknown, ...parts: string[]): void {
  let caught: unknown;
  try {
    attach(arg);
  } catch (e) {
    caught = e;
  }
  expect(caught, 'attach should throw').toBeInstanceOf(SlabError);
  const err = caught as SlabError;
  expect(err.code).toBe('ELAYOUT');
  expect(err.message).toMatch(/^attach: /);
  for (const p of parts) expect(err.message).toContain(p);
}

const CONFIGS: Array<Partial<MachineConfig>> = [
  { cpus: 1, memory: MiB },
  { cpus: 2, memory: 2 * MiB },
  { cpus: 4, nodes: 2, memory: 4 * MiB },
  { cpus: 8, nodes: 8, memory: 2 * MiB, profile: '6.6' },
  { cpus: 64, nodes: 4, memory: 8 * MiB },
  { cpus: 3, nodes: 2, memory: 16 * MiB, pageSize: 65536 },
  { cpus: 5, nodes: 1, memory: 4 * MiB, pageSize: 16384 },
];

describe('struct layout', () => {
  it('defineStruct aligns 64-bit fields to 8 bytes, after u32 fields and odd arrays alike', () => {
    const s = defineStruct('T', { a: 'u32', b: 'u64', c: ['u32', 3], d: 'u64', e: 'u32', f: 'u64' });
    expect(s).toMatchObject({ a: 0, b: 2, c: 4, d: 8, e: 10, f: 12, STRIDE: 14, NAME: 'T' });
    for (const k of ['b', 'd', 'f'] as const) expect(s[k] % 2).toBe(0);
    expect(s.STRIDE % 2).toBe(0);
    const odd = defineStruct('U', { a: 'u32', b: 'u32', c: 'u32' });
    expect(odd.STRIDE).toBe(4); // 12 bytes padded to 16
    const padded = defineStruct('V', { a: 'u64', b: 'u32' }, 128);
    expect(padded.STRIDE).toBe(32);
  });

  it('every struct has 8-byte-multiple strides and fields inside the stride, without overlap', () => {
    for (const [name, s] of Object.entries(STRUCTS)) {
      expect(s.NAME).toBe(name);
      expect((s.STRIDE * 4) % 8, `${name}.STRIDE`).toBe(0);
      const offs = fieldsOf(s)
        .map(([, w]) => w)
        .sort((a, b) => a - b);
      expect(new Set(offs).size, `${name}: distinct offsets`).toBe(offs.length);
      for (const w of offs) {
        expect(Number.isInteger(w)).toBe(true);
        expect(w).toBeGreaterThanOrEqual(0);
        expect(w).toBeLessThan(s.STRIDE);
      }
    }
    // the two arrays of NODE are MAX_ORDER words each and do not overlap
    expect(NODE.freeHead - NODE.nrFree).toBeGreaterThanOrEqual(MAX_ORDER);
    expect(NODE.freeHead + MAX_ORDER).toBeLessThanOrEqual(NODE.STRIDE);
  });

  it('NODE and CPU strides are multiples of 128 bytes (per-CPU padding)', () => {
    expect((NODE.STRIDE * 4) % 128).toBe(0);
    expect((CPU.STRIDE * 4) % 128).toBe(0);
    expect((PCP.STRIDE * 4) % 256).toBe(0);
    expect(NODE.STRIDE).toBeGreaterThan(0);
    expect(CPU.STRIDE).toBeGreaterThan(0);
  });

  it('64-bit words of the buffer are addressable through the BigInt64Array view', () => {
    const m = create({ memory: MiB });
    expect(m.sab.byteLength % 8).toBe(0);
    expect(m.i64.length * 2).toBe(m.u32.length);
  });
});

describe('machine regions', () => {
  it.each(CONFIGS)('header, nodes, pages, cpus, memory appear in order without overlap: %o', (partial) => {
    const m = create(partial);
    const words = m.sab.byteLength / 4;
    const regions: Array<[string, number, number]> = [
      ['header', 0, GLOBAL.STRIDE],
      ['nodes', m.nodeBase, m.nodeBase + m.cfg.nodes * NODE.STRIDE],
      ['pages', m.pageBase, m.pageBase + m.totalPfns * PAGE.STRIDE],
      ['cpus', m.cpuBase, m.cpuBase + m.cfg.cpus * CPU.STRIDE],
      ['pagesets', m.pcpBase, m.pcpBase + m.cfg.nodes * m.cfg.cpus * PCP.STRIDE],
      ['memory', m.memBase, m.memBase + (m.totalPfns * m.cfg.pageSize) / 4],
    ];
    for (let i = 1; i < regions.length; i++) {
      const [prev, , prevEnd] = regions[i - 1];
      const [name, start, end] = regions[i];
      expect(start, `${name} starts after ${prev} ends`).toBeGreaterThanOrEqual(prevEnd);
      expect(end).toBeGreaterThan(start);
    }
    expect(regions[5][2]).toBe(words);
    expect(m.u32[GLOBAL.totalWords]).toBe(words);
    // per-node and per-CPU regions start on 128-byte boundaries; memory on a page boundary
    expect((m.nodeBase * 4) % 128).toBe(0);
    expect((m.cpuBase * 4) % 128).toBe(0);
    expect((m.pcpBase * 4) % 128).toBe(0);
    expect((m.memBase * 4) % m.cfg.pageSize).toBe(0);
    // the machine's sizes
    expect(m.pagesPerNode).toBe(Math.floor(m.cfg.memory / m.cfg.pageSize / m.cfg.nodes));
    expect(m.totalPfns).toBe(1 + m.cfg.nodes * m.pagesPerNode);
    expect(2 ** m.pageShift).toBe(m.cfg.pageSize);
  });

  it('the header records the layout', () => {
    const m = create({ cpus: 4, nodes: 2, memory: 4 * MiB, profile: '6.6' });
    const g = m.u32;
    expect(g[GLOBAL.magic]).toBe(MAGIC);
    expect(g[GLOBAL.version]).toBe(LAYOUT_VERSION);
    expect(g[GLOBAL.cpus]).toBe(4);
    expect(g[GLOBAL.nodes]).toBe(2);
    expect(g[GLOBAL.pageSize]).toBe(4096);
    expect(g[GLOBAL.pageShift]).toBe(12);
    expect(g[GLOBAL.profile]).toBe(1);
    expect(g[GLOBAL.pagesPerNode]).toBe(512);
    expect(g[GLOBAL.totalPfns]).toBe(1025);
    expect(g[GLOBAL.nodeBase]).toBe(m.nodeBase);
    expect(g[GLOBAL.pageBase]).toBe(m.pageBase);
    expect(g[GLOBAL.cpuBase]).toBe(m.cpuBase);
    expect(g[GLOBAL.pcpBase]).toBe(m.pcpBase);
    expect(g[GLOBAL.pcp]).toBe(1);
    expect(create({ pcp: false }).u32[GLOBAL.pcp]).toBe(0);
    expect(g[GLOBAL.memBase]).toBe(m.memBase);
    expect(g[GLOBAL.nextCpuId]).toBe(0);
  });
});

describe('attach', () => {
  const same = (a: Machine, b: Machine) => {
    expect(b.cfg).toEqual(a.cfg);
    for (const k of [
      'pageShift',
      'pagesPerNode',
      'totalPfns',
      'nodeBase',
      'pageBase',
      'cpuBase',
      'pcpBase',
      'memBase',
    ] as const) {
      expect(b[k], k).toBe(a[k]);
    }
  };

  it.each(CONFIGS)('attach(create(cfg).sab) gives equal config and offsets: %o', (partial) => {
    const m = create(partial);
    const a = attach(m.sab);
    same(m, a);
    expect(a.sab).toBe(m.sab);
  });

  it('attach gives equal config when memory is not a multiple of nodes * pageSize', () => {
    // 64 MiB over 3 nodes is 5461.33 pages per node; 1 MiB + 100 bytes is 256.02 pages
    for (const partial of [{ cpus: 3, nodes: 3 }, { memory: MiB + 100 }]) {
      const m = create(partial);
      same(m, attach(m.sab));
    }
  });

  it('views of an attached machine share memory with the creator', () => {
    const m = create({ memory: MiB });
    const a = attach(m.sab);
    a.u32[a.memBase + 5] = 0xdeadbeef;
    expect(m.u32[m.memBase + 5]).toBe(0xdeadbeef);
    // attaching a copy gives an independent machine of the same layout
    const c = attach(copyOf(m.sab));
    c.u32[c.memBase + 5] = 1;
    expect(m.u32[m.memBase + 5]).toBe(0xdeadbeef);
    same(m, c);
  });

  it('rejects anything that is not a SharedArrayBuffer', () => {
    const m = create({ memory: MiB });
    expectLayoutError(new ArrayBuffer(m.sab.byteLength), 'SharedArrayBuffer');
    expectLayoutError(m.u32, 'SharedArrayBuffer');
    expectLayoutError(undefined, 'SharedArrayBuffer', 'undefined');
    expectLayoutError(null, 'SharedArrayBuffer');
    expectLayoutError({ byteLength: 4096 }, 'SharedArrayBuffer');
    expectLayoutError(m, 'SharedArrayBuffer');
  });

  it('rejects a buffer too small for a header', () => {
    expectLayoutError(new SharedArrayBuffer(0), 'too small', '0 bytes');
    expectLayoutError(new SharedArrayBuffer(GLOBAL.STRIDE * 4 - 4), 'too small');
  });

  it('rejects a wrong magic', () => {
    const m = create({ memory: MiB });
    const c = copyOf(m.sab);
    new Uint32Array(c)[GLOBAL.magic] = 0x12345678;
    expectLayoutError(c, 'bad magic', '0x12345678', `0x${MAGIC.toString(16)}`);
    expectLayoutError(new SharedArrayBuffer(m.sab.byteLength), 'bad magic 0x0');
  });

  it('rejects a wrong layout version', () => {
    const m = create({ memory: MiB });
    const c = copyOf(m.sab);
    new Uint32Array(c)[GLOBAL.version] = LAYOUT_VERSION + 1;
    expectLayoutError(c, `layout version ${LAYOUT_VERSION + 1}`, `expected ${LAYOUT_VERSION}`);
    new Uint32Array(c)[GLOBAL.version] = 0;
    expectLayoutError(c, 'layout version 0');
  });

  it('rejects a buffer whose size does not match its header', () => {
    const m = create({ memory: MiB });
    const n = m.sab.byteLength;
    expectLayoutError(copyOf(m.sab, n + 4096), `buffer size ${n + 4096}`, `(${n})`);
    expectLayoutError(copyOf(m.sab, n - 4096), `buffer size ${n - 4096}`, `(${n})`);
    expectLayoutError(copyOf(m.sab, GLOBAL.STRIDE * 4), 'does not match');
    const c = copyOf(m.sab);
    new Uint32Array(c)[GLOBAL.totalWords] += 2;
    expectLayoutError(c, 'does not match');
  });

  it('rejects a header with impossible fields as a layout error', () => {
    const m = create({ cpus: 2, memory: MiB });
    const corrupt: Array<[number, number]> = [
      [GLOBAL.cpus, 0],
      [GLOBAL.nodes, 3], // more nodes than CPUs
      [GLOBAL.profile, 7], // no such profile
      [GLOBAL.pageSize, 5000],
    ];
    for (const [word, value] of corrupt) {
      const c = copyOf(m.sab);
      new Uint32Array(c)[word] = value;
      expectLayoutError(c);
    }
  });
});

describe('cpuNode', () => {
  const fake = (cpus: number, nodes: number) => ({ cfg: { cpus, nodes } }) as unknown as Machine;

  it('splits CPUs evenly across nodes', () => {
    const nodesOf = (cpus: number, nodes: number) => Array.from({ length: cpus }, (_, c) => cpuNode(fake(cpus, nodes), c));
    expect(nodesOf(4, 2)).toEqual([0, 0, 1, 1]);
    expect(nodesOf(4, 1)).toEqual([0, 0, 0, 0]);
    expect(nodesOf(4, 4)).toEqual([0, 1, 2, 3]);
    expect(nodesOf(8, 2)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(nodesOf(6, 3)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it('for every cpus/nodes: ascending, every node has a CPU, node sizes differ by at most one', () => {
    const bad: string[] = [];
    for (let cpus = 1; cpus <= 64; cpus++) {
      for (let nodes = 1; nodes <= Math.min(8, cpus); nodes++) {
        const m = fake(cpus, nodes);
        const count = new Array<number>(nodes).fill(0);
        let prev = 0;
        for (let c = 0; c < cpus; c++) {
          const n = cpuNode(m, c);
          if (!(Number.isInteger(n) && n >= prev && n < nodes)) bad.push(`${cpus}/${nodes}: cpu ${c} on node ${n}`);
          prev = n;
          count[n]++;
        }
        if (Math.min(...count) < 1 || Math.max(...count) - Math.min(...count) > 1) {
          bad.push(`${cpus}/${nodes}: node sizes ${count.join(',')}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('create() writes each CPU its node', () => {
    const m = create({ cpus: 6, nodes: 3, memory: 2 * MiB });
    const written = Array.from({ length: 6 }, (_, c) => m.u32[cpuOff(m, c) + CPU.node]);
    expect(written).toEqual([0, 0, 1, 1, 2, 2]);
    for (let c = 0; c < 6; c++) expect(written[c]).toBe(cpuNode(m, c));
  });
});
