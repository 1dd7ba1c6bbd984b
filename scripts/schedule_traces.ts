// Records what the scheduler sees for every schedule string the project has, into
// test/fixtures/schedule_traces.json (read by test/schedule_strings.test.ts): the strings
// the docs, tests and sources hold, the schedule each mutant's hunt finds and its shrunk
// form, and one random run of every built-in and fixture model on every profile, under
// sc and arm. Run it only when a change of what the scheduler sees is intended (a new
// schedule point, a new model), and say so in the commit.
//
// Usage: npx tsx scripts/schedule_traces.ts
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelFile } from '../src/cli/model_files.js';
import { MUTANT_MODES, MUTANT_NAMES } from '../src/mm/slub/mutants.js';
import { explore } from '../src/race/api.js';
import { MODELS, modelsForMutant } from '../src/race/catalogue.js';
import type { Model } from '../src/race/model.js';
import { raceScheduleString, runRace } from '../src/race/run.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { storedScheduleStrings, type TraceRecord, traceRecord } from '../test/schedule_traces.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Model files whose models the stored strings name (as the test imports them). */
export const FIXTURE_MODEL_FILES = ['test/fixtures/ring.model.ts', 'test/fixtures/store_buffer.model.ts'];

async function main(): Promise<void> {
  const fixtures: Model[] = [];
  for (const f of FIXTURE_MODEL_FILES)
    for (const exp of ['default', 'publishEarly', 'acquire'])
      try {
        fixtures.push(...(await loadModelFile(join(root, f), exp)).map((fm) => fm.model));
      } catch {
        // this file has no such export
      }
  const models = [...MODELS, ...fixtures];
  const records: TraceRecord[] = [];
  const add = (schedule: string, source: string): void => {
    if (records.some((r) => r.schedule === schedule)) return;
    try {
      records.push(traceRecord(models, schedule, source));
    } catch (e) {
      console.error(`skipped ${schedule} (${source}): ${(e as Error).message}`);
    }
  };

  for (const { schedule, source } of storedScheduleStrings(root)) add(schedule, source);

  for (const mutant of MUTANT_NAMES) {
    const report = await explore(modelsForMutant(mutant), {
      mutant,
      memoryModel: MUTANT_MODES[mutant],
      runs: 5000,
      budget: '60s',
      seed: 1,
    });
    const failure = report.models.find((r) => r.failure)?.failure;
    if (!failure) {
      console.error(`mutant ${mutant}: not found`);
      continue;
    }
    add(failure.schedule, `mutant ${mutant}: as found`);
    add(failure.shrunk, `mutant ${mutant}: shrunk`);
  }

  for (const model of models)
    for (const profile of model.profiles ?? [null])
      for (const memoryModel of ['sc', 'arm'] as const) {
        const cfg = { model, profile, mutant: null, seed: 1, memoryModel };
        try {
          const run = runRace(cfg, new RandomStrategy(1));
          add(raceScheduleString(cfg, run.choices), `random run, seed 1`);
        } catch (e) {
          console.error(`no ${memoryModel} run of ${model.name}: ${(e as Error).message}`);
        }
      }

  const out = join(root, 'test/fixtures/schedule_traces.json');
  writeFileSync(out, `${JSON.stringify(records, null, 1)}\n`);
  console.log(`${records.length} schedule strings recorded in ${out}`);
}

await main();
