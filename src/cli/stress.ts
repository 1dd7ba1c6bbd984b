// slabsim stress --model FILE: the model's threads truly in parallel on worker threads,
// round after round, the final check after every round (src/race/stress_round.ts).
// Exit 0: every round passed; 1: a round failed its check or stopped making progress;
// 2: bad usage or a bug of the model.
import { type Command, Option } from 'commander';
import { resolve } from 'node:path';
import { PROFILES, type Profile } from '../config.js';
import { ModelError } from '../errors.js';
import { workerFile } from '../package_files.js';
import { MIN_MODEL_MEMORY, withCpus } from '../race/model.js';
import { CTL, STOPPED, type StressSample, type StressWorkerResult } from '../race/stress_round.js';
import { create, snapshot } from '../shm/machine.js';
import type { StressTask } from '../../workers/stress.js';
import { fastSources } from './fast_sources.js';
import { compiledModelFile } from './model_bundle.js';
import { loadModelFiles } from './model_files.js';
import { durationArg, intIn, oneOf, seedArg } from './options.js';
import { checkWritable, writeOutput } from './output.js';

interface StressFlags {
  model: string;
  export?: string;
  cpus?: number;
  duration?: number;
  ops?: number;
  seed: number;
  profile: Profile;
  stallTimeout: number;
  json?: string;
}

export const STRESS_SCHEMA = 'slabsim-stress/1';

export interface StressReport {
  schema: typeof STRESS_SCHEMA;
  model: string;
  file: string;
  cpus: number;
  rounds: number;
  failed_rounds: number;
  elapsed_ms: number;
  rounds_per_sec: number;
  /** the share of wall time the threads spent in the model's own code */
  thread_share: number;
  /** the first failing rounds, with what their checks said */
  failures: StressSample[];
  /** the rounds stopped making progress (a thread waiting for something that never happens) */
  stalled?: { round: number; after_ms: number };
}

export function addStressCommand(program: Command): void {
  program
    .command('stress')
    .description(
      "run a model's threads in parallel on worker threads, round after round, checking after each; exit 0: all rounds passed, 1: a check failed or a round stalled, 2: bad usage",
    )
    .requiredOption('--model <file>', 'the model file (.ts, .js, .mjs); its two-way modules run in their free-running form')
    .option('--export <name>', 'the export that holds the model (default: the default export)')
    .addOption(
      new Option('--cpus <n>', "worker threads, one per simulated CPU (default: the model's cpus)").argParser(intIn(1, 52)),
    )
    .addOption(new Option('--duration <time>', 'run this long, e.g. 10s (default 10s unless --ops)').argParser(durationArg))
    .addOption(new Option('--ops <n>', "rounds of the model's program to run").argParser(intIn(1, 1e9)))
    .addOption(new Option('--seed <n>', 'seed of the CPUs').argParser(seedArg).default(1))
    .addOption(
      new Option('--profile <p>', 'kernel profile of the machine, for models that run SLUB')
        .argParser(oneOf(PROFILES))
        .default('6.6'),
    )
    .addOption(
      new Option('--stall-timeout <time>', 'a round that takes longer has stalled (reported, exit 1)')
        .argParser(durationArg)
        .default(10_000, '10s'),
    )
    .option('--json <file>', "write the report as JSON ('-' for stdout)")
    .action(async (f: StressFlags) => {
      if (f.json) checkWritable(f.json);
      if (f.duration !== undefined && f.ops !== undefined) throw new ModelError('give --duration or --ops, not both');
      const report = await stress(f);
      if (f.json) writeOutput(f.json, `${JSON.stringify(report, null, 2)}\n`);
      if (f.json !== '-') process.stdout.write(stressText(report));
      process.exitCode = report.failed_rounds > 0 || report.stalled ? 1 : 0;
    });
}

async function stress(f: StressFlags): Promise<StressReport> {
  const found = await loadModelFiles([f.model], f.export);
  if (found.length !== 1)
    throw new ModelError(
      `${f.model}: export '${f.export ?? 'default'}' holds ${found.length} models; stress runs one (pick it with --export)`,
    );
  const { model: generatorForm, file } = found[0];
  const model = withCpus(generatorForm, f.cpus ?? generatorForm.cpus);
  const cpus = model.cpus;
  const m = create({ cpus, memory: model.memory ?? MIN_MODEL_MEMORY, profile: f.profile });
  const image = new SharedArrayBuffer(m.sab.byteLength);
  new Uint32Array(image).set(snapshot(m).words);
  const ctl = new Int32Array(new SharedArrayBuffer(CTL.WORDS * 4));
  const fast = await fastSources(generatorForm.source ?? file);
  // The workers import the model compiled here, where it compiles (src/cli/model_bundle.ts).
  const compiled = await compiledModelFile(resolve(generatorForm.source ?? file), fast);
  const task = (cpu: number): StressTask => ({
    sab: m.sab,
    image,
    ctl: ctl.buffer as SharedArrayBuffer,
    file: generatorForm.source ?? file,
    model: model.name,
    cpu,
    cpus,
    rounds: f.ops ?? 0,
    seed: f.seed,
    profile: f.profile,
    fastSources: fast,
    compiled: compiled ?? undefined,
  });
  const { Piscina } = await import('piscina');
  const pool = new Piscina({
    filename: workerFile('stress'),
    minThreads: cpus,
    maxThreads: cpus,
    workerData: { entry: './stress.ts' },
  });
  const durationMs = f.ops === undefined ? (f.duration ?? 10_000) : Number.POSITIVE_INFINITY;
  let stalled: StressReport['stalled'];
  let results: StressWorkerResult[] = [];
  const running = Promise.all(Array.from({ length: cpus }, (_, cpu) => pool.run(task(cpu)) as Promise<StressWorkerResult>));
  running.catch(() => undefined);
  let done = false;
  running.then(
    (r) => {
      results = r;
      done = true;
    },
    () => {
      done = true;
    },
  );
  // The clock starts when every worker has loaded the model (that takes seconds).
  while (!done && Atomics.load(ctl, CTL.READY) < cpus) await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  // Watch: stop when the time is up; give up on a round that stalls, or on a model bug.
  let lastRound = 0;
  let lastChange = t0;
  while (!done) {
    await new Promise((r) => setTimeout(r, 20));
    const now = performance.now();
    if (now - t0 >= durationMs) Atomics.store(ctl, CTL.STOP, 1);
    const round = Atomics.load(ctl, CTL.ROUND);
    if (round !== lastRound) {
      lastRound = round;
      lastChange = now;
    } else if (!done && round !== STOPPED && Atomics.load(ctl, CTL.ERROR) === 0 && now - lastChange > f.stallTimeout) {
      stalled = { round, after_ms: Math.round(now - lastChange) };
      break;
    }
  }
  const elapsed = performance.now() - t0;
  if (stalled) await pool.destroy();
  else {
    await running.catch(() => undefined);
    await pool.destroy();
  }
  const error = results.find((r) => r.error)?.error;
  if (error) throw new ModelError(error.startsWith(file) || error.startsWith('/') ? error : `${file}: ${error}`);
  if (!stalled && results.length === 0) throw new ModelError(`${file}: the stress workers ended without a result`);
  const rounds = stalled ? stalled.round : Math.max(...results.map((r) => r.rounds));
  const threadMs = results.reduce((s, r) => s + r.threadMs, 0) / Math.max(1, results.length);
  return {
    schema: STRESS_SCHEMA,
    model: model.name,
    file,
    cpus,
    rounds,
    failed_rounds: Atomics.load(ctl, CTL.FAILED),
    elapsed_ms: Math.round(elapsed),
    rounds_per_sec: Math.round(rounds / Math.max(elapsed / 1000, 1e-6)),
    thread_share: Number((threadMs / Math.max(elapsed, 1e-6)).toFixed(3)),
    failures: dedupe(results.flatMap((r) => r.samples)),
    ...(stalled ? { stalled } : {}),
  };
}

/** Every worker checks the same shared memory: one line per (round, message). */
function dedupe(samples: StressSample[]): StressSample[] {
  const seen = new Set<string>();
  const out: StressSample[] = [];
  for (const s of samples.sort((a, b) => a.round - b.round || a.cpu - b.cpu)) {
    const messages = s.messages.filter((msg) => !seen.has(`${s.round} ${msg}`));
    for (const msg of messages) seen.add(`${s.round} ${msg}`);
    if (messages.length) out.push({ ...s, messages });
  }
  return out.slice(0, 5);
}

export function stressText(r: StressReport): string {
  const lines = [
    `stress ${r.model} (${r.file}) on ${r.cpus} worker threads: ${r.rounds.toLocaleString('en-US')} rounds in ${(r.elapsed_ms / 1000).toFixed(1)} s (${r.rounds_per_sec.toLocaleString('en-US')} rounds/s), ${r.failed_rounds} failed`,
  ];
  for (const s of r.failures) for (const msg of s.messages) lines.push(`  round ${s.round} (CPU${s.cpu}'s check): ${msg}`);
  if (r.stalled)
    lines.push(
      `  round ${r.stalled.round} stalled: no progress for ${(r.stalled.after_ms / 1000).toFixed(1)} s (a thread waiting for something that never happens?)`,
    );
  return `${lines.join('\n')}\n`;
}
