// Geometry of the sheaf profiles: 6.7+ calculate_order(), kmem_cache_args.freeptr_offset,
// calculate_sheaf_capacity(), and two caches of a live Linux 6.18 machine.
import { describe, expect, it } from 'vitest';
import { SlabError } from '../src/errors.js';
import {
  calculateGeometry,
  calculateOrder,
  calculateSheafCapacity,
  findMergeable,
  MAX_SHEAF_CAPACITY,
  SLAB_FLAGS as F,
  sheafBytes,
} from '../src/mm/slub/geometry.js';
import { cli, expectSlabError } from './helpers.js';

/**
 * Read at the time of writing from /sys/kernel/slab/{maple_node,vm_area_struct}/ of the machine these
 * tests were written on: Linux 6.18.44, x86_64, 2 present CPUs, 4 KiB pages. maple_node
 * is created with align = sizeof(struct maple_node) and sheaf_capacity 32;
 * vm_area_struct with SLAB_HWCACHE_ALIGN | SLAB_TYPESAFE_BY_RCU, sheaf_capacity 32 and
 * freeptr_offset = offsetof(struct vm_area_struct, vm_freeptr), a word inside the
 * object (any aligned offset below the size gives the same geometry).
 */
const LIVE_6_18 = {
  maple_node: {
    args: { size: 256, align: 256, flags: 0 },
    sysfs: {
      order: 0,
      objs_per_slab: 16,
      min_partial: 5,
      sheaf_capacity: 32,
      cpu_partial: 52,
      object_size: 256,
      slab_size: 256,
      align: 256,
    },
  },
  vm_area_struct: {
    args: { size: 192, align: 0, flags: F.hwcache_align | F.typesafe_by_rcu, freeptrOffset: 64 },
    sysfs: {
      order: 0,
      objs_per_slab: 21,
      min_partial: 5,
      sheaf_capacity: 32,
      cpu_partial: 120,
      object_size: 192,
      slab_size: 192,
      align: 64,
    },
  },
} as const;

const asSysfs = (g: ReturnType<typeof calculateGeometry>) => ({
  order: g.order,
  objs_per_slab: g.objects,
  min_partial: g.minPartial,
  sheaf_capacity: g.sheafCapacity,
  cpu_partial: g.cpuPartial,
  object_size: g.objectSize,
  slab_size: g.size,
  align: g.align,
});

describe('profile 6.18 against a live 6.18 kernel', () => {
  it.each(Object.entries(LIVE_6_18))('%s: the geometry sysfs shows', (_name, c) => {
    const g = calculateGeometry({ ...c.args, cpus: 2, profile: '6.18', sheafCapacity: 32 });
    expect(asSysfs(g)).toEqual(c.sysfs);
  });

  it('vm_area_struct without its freeptr_offset would need a 256-byte slot (the word after the object, aligned to 64)', () => {
    const { args } = LIVE_6_18.vm_area_struct;
    const g = calculateGeometry({ size: args.size, flags: args.flags, cpus: 2, profile: '6.18', sheafCapacity: 32 });
    expect([g.offset, g.size, g.objects]).toEqual([192, 256, 16]);
    const h = calculateGeometry({ ...args, cpus: 2, profile: '6.18', sheafCapacity: 32 });
    expect([h.offset, h.inuse, h.size]).toEqual([64, 192, 192]);
  });

  it('slabsim geometry prints the same, sheaf_capacity included', () => {
    const r = cli(
      'geometry',
      '--profile',
      '6.18',
      '--size',
      '192',
      '--flags',
      'hwcache_align,typesafe_by_rcu',
      '--freeptr-offset',
      '64',
      '--cpus',
      '2',
      '--sheaf-capacity',
      '32',
      '--json',
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject(LIVE_6_18.vm_area_struct.sysfs);
    const maple = cli(
      'geometry',
      '--profile',
      '6.18',
      '--size',
      '256',
      '--align',
      '256',
      '--cpus',
      '2',
      '--sheaf-capacity',
      '32',
    );
    expect(maple.stdout).toMatch(/^sheaf_capacity +32$/m);
    expect(maple.stdout).toMatch(/^objs_per_slab +16$/m);
  });
});

describe('calculate_order() as rewritten in 6.7 (6.18, 7.0)', () => {
  it('12000 bytes on 1 CPU: 6.6 gives up min_objects and takes order 2; 6.7+ keeps order 3 (2 objects) at 1/2 waste', () => {
    // 6.6: min_objects 2 fits no order <= 3 within 1/4 waste, so a single object: get_order(12000) = 2.
    expect(calculateOrder(12000, 1, '6.6')).toBe(2);
    // 6.7+: min_order = get_order(2 * 12000) = 3; 32768 % 12000 = 8768 <= 32768 / 2.
    expect(calculateOrder(12000, 1, '6.18')).toBe(3);
    expect(calculateOrder(12000, 1, '7.0')).toBe(3);
  });

  it('agrees with 6.6 on the common sizes', () => {
    for (const size of [8, 64, 192, 256, 1024, 4096])
      expect(calculateOrder(size, 4, '6.18')).toBe(calculateOrder(size, 4, '6.6'));
  });
});

describe('calculate_sheaf_capacity()', () => {
  it('7.0: 4/12/26/60 by size, grown to fill the kmalloc bucket of the sheaf: 4, 12, 28, 60', () => {
    expect([8192, 4096, 1024, 256, 255, 8].map((size) => calculateSheafCapacity(size, 0, 0, '7.0'))).toEqual([
      4, 4, 12, 28, 60, 60,
    ]);
    // struct_size(sheaf, objects, 26) = 240 bytes, a kmalloc-256 object: room for 28.
    expect(sheafBytes(26)).toBe(240);
    expect(sheafBytes(28)).toBe(256);
  });

  it('7.0: at least the creator asks for; none for debug or NOLEAKTRACE caches', () => {
    expect(calculateSheafCapacity(256, 0, 32, '7.0')).toBe(32);
    expect(calculateSheafCapacity(256, 0, 5, '7.0')).toBe(28);
    expect(calculateSheafCapacity(256, F.red_zone, 32, '7.0')).toBe(0);
    expect(calculateSheafCapacity(256, F.noleaktrace, 0, '7.0')).toBe(0);
  });

  it('6.18: the creator value as given (0: no sheaves), none for debug caches; 5.4 and 6.6: none', () => {
    expect(calculateSheafCapacity(256, 0, 32, '6.18')).toBe(32);
    expect(calculateSheafCapacity(256, 0, 0, '6.18')).toBe(0);
    expect(calculateSheafCapacity(256, F.poison, 32, '6.18')).toBe(0);
    expect(calculateSheafCapacity(256, 0, 32, '6.6')).toBe(0);
  });

  it('7.0: cpu_partial reads 0; kmalloc caches too get sheaves', () => {
    const g = calculateGeometry({ size: 192, cpus: 2, profile: '7.0' });
    expect([g.cpuPartial, g.cpuPartialSlabs, g.sheafCapacity]).toEqual([0, 0, 60]);
  });
});

describe('bad sheaf and freeptr arguments', () => {
  const geo = (more: object) => () => calculateGeometry({ size: 192, cpus: 2, profile: '6.18', ...more });
  it('a sheaf capacity on a profile without sheaves, or out of range: EINVAL', () => {
    expectSlabError(
      () => calculateGeometry({ size: 192, cpus: 2, profile: '6.6', sheafCapacity: 32 }),
      'EINVAL',
      /profile 6.6 has no sheaves/,
    );
    expectSlabError(geo({ sheafCapacity: MAX_SHEAF_CAPACITY + 1 }), 'EINVAL', /expected an integer in 0\.\.1020/);
    expectSlabError(geo({ sheafCapacity: 2.5 }), 'EINVAL', /sheaf_capacity/);
  });

  it('freeptr_offset: only with typesafe_by_rcu (7.0: or a ctor), word-aligned, inside the object, not before 6.18', () => {
    expectSlabError(geo({ freeptrOffset: 64 }), 'EINVAL', /needs typesafe_by_rcu$/);
    expectSlabError(geo({ freeptrOffset: 60, flags: F.typesafe_by_rcu }), 'EINVAL', /multiple of 8/);
    expectSlabError(geo({ freeptrOffset: 192, flags: F.typesafe_by_rcu }), 'EINVAL', /below the object size/);
    expectSlabError(
      () => calculateGeometry({ size: 192, cpus: 2, profile: '6.6', freeptrOffset: 64, flags: F.typesafe_by_rcu }),
      'EINVAL',
      /no kmem_cache_args/,
    );
    expect(calculateGeometry({ size: 192, cpus: 2, profile: '7.0', ctor: true, freeptrOffset: 64 }).offset).toBe(64);
    expectSlabError(geo({ ctor: true, freeptrOffset: 64 }), 'EINVAL', /needs typesafe_by_rcu$/);
  });

  it('slabsim run: a sheaf capacity on a profile without sheaves, out of range, or without --cache: exit 2, one line, no output', () => {
    for (const args of [
      ['--profile', '6.6', '--cache', 'obj', '--sheaf-capacity', '32'],
      ['--profile', '6.18', '--cache', 'obj', '--sheaf-capacity', '2000'],
      ['--profile', '6.18', '--sheaf-capacity', '32'],
    ]) {
      const r = cli('run', '--workload', 'threadtest', '--ops', '1000', '--quiet', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });

  it('the CLI: exit 2 with one line', () => {
    for (const args of [
      ['--profile', '6.6', '--sheaf-capacity', '32'],
      ['--profile', '5.4', '--sheaf-capacity', '32'],
      ['--profile', '6.18', '--sheaf-capacity', '0'],
      ['--profile', '6.18', '--sheaf-capacity', '5000'],
      ['--profile', '6.18', '--freeptr-offset', '64'],
    ]) {
      const r = cli('geometry', '--size', '192', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });
});

describe('merging', () => {
  const existing = [{ size: 192, align: 8, flags: 0, objectSize: 192, ctor: false, refcount: 1 }];
  it('a cache asking for sheaves is never an alias (6.18, 7.0)', () => {
    expect(findMergeable(existing, { size: 192, profile: '7.0' })).toBe(0);
    expect(findMergeable(existing, { size: 192, profile: '7.0', sheafCapacity: 32 })).toBe(-1);
  });
  it('6.18: a cache with sheaves takes no aliases', () => {
    expect(findMergeable([{ ...existing[0], cpuSheaves: true }], { size: 192, profile: '6.18' })).toBe(-1);
  });
  it('SlabError is what bad input throws', () => {
    expect(() => calculateGeometry({ size: 1, cpus: 1, profile: '8.0' as never })).toThrow(SlabError);
  });
});
