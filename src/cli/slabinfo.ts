import type { Command } from 'commander';
import { readRunReport } from '../report/run_file.js';
import { slabinfoTool } from '../report/slabinfo_tool.js';

interface SlabinfoFlags {
  report?: string;
  displayActivity?: boolean;
  zero?: boolean;
}

/**
 * `slabsim slabinfo RUN.json`: the kernel's tools/mm/slabinfo reports, computed from a
 * saved run (offline: no /sys/kernel/slab is read). A missing or malformed file, or an
 * unknown cache for -r, is a SlabError EINVAL: one line and exit code 2.
 */
export function addSlabinfoCommand(program: Command): void {
  program
    .command('slabinfo')
    .description("print tools/mm/slabinfo's reports for a saved run (slabsim run --json FILE)")
    .argument('<run.json>', 'a run saved by slabsim run --json')
    .option('-r, --report <cache>', 'detailed report of one cache (its name, an alias or its sysfs directory)')
    .option('-D, --display-activity', 'activity listing: allocations, frees and fast path shares')
    .option('-z, --zero', 'include caches that have no slabs')
    .action((file: string, f: SlabinfoFlags) => {
      const report = readRunReport(file);
      process.stdout.write(slabinfoTool(report, { report: f.report, activity: f.displayActivity, zero: f.zero }));
    });
}
