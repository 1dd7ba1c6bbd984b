import { type Command, Option } from 'commander';
import { hasSheaves, PROFILES, type Profile } from '../config.js';
import { SlabError } from '../errors.js';
import { calculateGeometry, parseFlags } from '../mm/slub/geometry.js';
import { intIn, machineInt, profileArg, sheafCapacityArg } from './options.js';

interface GeometryFlags {
  size: number;
  align: number;
  flags: string;
  cpus: number;
  profile: Profile;
  pageSize: number;
  sheafCapacity?: number;
  freeptrOffset?: number;
  json?: boolean;
}

/** `slabsim geometry`: what kmem_cache_create() would compute for a cache of this shape. */
export function addGeometryCommand(program: Command): void {
  program
    .command('geometry')
    .description('print the geometry SLUB gives a cache of this shape (calculate_sizes, calculate_order, ...)')
    .addOption(new Option('--size <bytes>', 'object size').argParser(intIn(1, 1 << 26)).makeOptionMandatory())
    .addOption(new Option('--align <bytes>', 'requested alignment (0 or a power of two)').argParser(intIn(0, 1 << 16)).default(0))
    .addOption(
      new Option(
        '--flags <list>',
        'comma-separated: hwcache_align, typesafe_by_rcu, no_merge, reclaim_account, poison, red_zone, store_user, consistency_checks, ..., ctor',
      ).default(''),
    )
    .addOption(new Option('--cpus <n>', 'CPUs (1..64)').argParser(machineInt('cpus')).default(2))
    .addOption(new Option('--profile <p>', `kernel profile: ${PROFILES.join(', ')}`).argParser(profileArg).default('5.4'))
    .addOption(new Option('--page-size <bytes>', 'page size').argParser(machineInt('pageSize')).default(4096))
    .addOption(
      new Option('--sheaf-capacity <n>', 'kmem_cache_args.sheaf_capacity (6.18: the sheaf size; 7.0: at least this)').argParser(
        sheafCapacityArg,
      ),
    )
    .addOption(
      new Option(
        '--freeptr-offset <bytes>',
        'kmem_cache_args.freeptr_offset (6.18, 7.0): the free pointer inside a typesafe_by_rcu object',
      ).argParser(intIn(0, 1 << 26)),
    )
    .option('--json', 'print JSON')
    .action((f: GeometryFlags) => {
      const names = f.flags
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const ctor = names.includes('ctor');
      const flags = parseFlags(names.filter((n) => n !== 'ctor'));
      if (f.align & (f.align - 1)) throw new SlabError('EINVAL', `--align ${f.align}: expected 0 or a power of two`);
      const g = calculateGeometry({
        size: f.size,
        align: f.align,
        flags,
        ctor,
        cpus: f.cpus,
        profile: f.profile,
        pageSize: f.pageSize,
        sheafCapacity: f.sheafCapacity ?? 0,
        freeptrOffset: f.freeptrOffset ?? -1,
      });
      const out = {
        object_size: g.objectSize,
        slab_size: g.size,
        align: g.align,
        offset: g.offset,
        inuse: g.inuse,
        red_left_pad: g.redLeftPad,
        order: g.order,
        objs_per_slab: g.objects,
        min_partial: g.minPartial,
        cpu_partial: g.cpuPartial,
        ...(f.profile === '6.6' || f.profile === '6.18' ? { cpu_partial_slabs: g.cpuPartialSlabs } : {}),
        ...(hasSheaves(f.profile) ? { sheaf_capacity: g.sheafCapacity } : {}),
      };
      if (f.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else for (const [k, v] of Object.entries(out)) process.stdout.write(`${k.padEnd(18)} ${v}\n`);
    });
}
