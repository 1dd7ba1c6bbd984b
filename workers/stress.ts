// A `slabsim stress` worker: one simulated CPU running a model's thread in free-running
// form (its two-way modules loaded as their fast twins), round after round.
import { registerModelLoader } from '../src/cli/loader.js';
import { findModelInFile } from '../src/cli/model_files.js';
import { withCpus } from '../src/race/model.js';
import { CTL, type StressRoundTask, type StressWorkerResult, stressRounds } from '../src/race/stress_round.js';
import { attach } from '../src/shm/machine.js';

export interface StressTask extends StressRoundTask {
  sab: SharedArrayBuffer;
  /** the machine's starting image */
  image: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  file: string;
  model: string;
  /** the fast twins of the model's two-way modules (src/cli/fast_sources.ts) */
  fastSources: Record<string, string>;
  /** the model's free-running form compiled by the main thread (src/cli/model_bundle.ts), loaded without the model loader */
  compiled?: string;
}

export default async function runStressTask(task: StressTask): Promise<StressWorkerResult> {
  const ctl = new Int32Array(task.ctl);
  let model;
  try {
    if (task.compiled === undefined) await registerModelLoader(task.fastSources);
    const found = await findModelInFile(task.file, task.model, true, task.compiled);
    if (!found) throw new Error(`${task.file}: no model named '${task.model}' in its free-running form`);
    model = withCpus(found, task.cpus);
  } catch (e) {
    Atomics.store(ctl, CTL.ERROR, 1);
    for (let i = 0; i < ctl.length; i++) Atomics.notify(ctl, i);
    return { cpu: task.cpu, rounds: 0, samples: [], threadMs: 0, error: (e as Error).message };
  }
  Atomics.add(ctl, CTL.READY, 1);
  Atomics.notify(ctl, CTL.READY);
  return stressRounds(attach(task.sab), { words: new Uint32Array(task.image), touched: null, side: [] }, ctl, model, task);
}
