// Shared by the report tests: a small real run, saved as JSON and read back the way
// `slabsim slabinfo RUN.json` reads it, and a parser for /proc/slabinfo rows.
import { parseRunReport } from '../src/report/run_file.js';
import { type RunOptions, type RunReport, runWorkload } from '../src/workload/run.js';
import { keptPools } from './helpers.js';

const pools = keptPools();

/** A real run on 2 CPU workers (kept for the test file), 20000 ops, round-tripped through its JSON. */
export async function savedRun(opts: Partial<RunOptions> = {}): Promise<RunReport> {
  const cpus = opts.machine?.cpus ?? 2;
  const r = await runWorkload({
    workload: 'threadtest',
    machine: { cpus },
    ops: 20_000,
    seed: 7,
    ...opts,
    pool: await pools(cpus),
  });
  if (!r.checks.ok) throw new Error(`the run failed its checks: ${r.checks.messages.join('; ')}`);
  return parseRunReport(JSON.stringify(r, null, 2), 'run.json');
}

export interface ProcRow {
  name: string;
  active_objs: number;
  num_objs: number;
  objsize: number;
  objperslab: number;
  pagesperslab: number;
  active_slabs: number;
  num_slabs: number;
}

/** The rows of a /proc/slabinfo text (after its two header lines). */
export function procRows(text: string): ProcRow[] {
  return text
    .split('\n')
    .slice(2)
    .filter((l) => l !== '')
    .map((l) => {
      const f = l.split(/\s+/);
      return {
        name: f[0],
        active_objs: Number(f[1]),
        num_objs: Number(f[2]),
        objsize: Number(f[3]),
        objperslab: Number(f[4]),
        pagesperslab: Number(f[5]),
        active_slabs: Number(f[13]),
        num_slabs: Number(f[14]),
      };
    });
}

export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
