// The viewer's explorer, in a Web Worker: loads a run of a model (a schedule string, a
// seeded random schedule, or a hunt for a failure), and shows step k by replaying the
// schedule cut after k + 1 steps (deterministic), then copying the machine into the
// display buffer the page draws from. Controlled through comlink (StepApi).
import { expose } from 'comlink';
import { explore } from '../race/api.js';
import { builtInModels } from '../race/catalogue.js';
import { checkModel, type Model } from '../race/model.js';
import { memoryModelOf, parseRaceSchedule, type RaceConfig, raceScheduleString, runRace, traceStepLines } from '../race/run.js';
import { RandomStrategy } from '../sched/strategies/random.js';
import { ReplayStrategy } from '../sched/strategies/replay.js';
import { SlabError } from '../errors.js';
import { MUTANT_MODES, type MutantName } from '../mm/slub/mutants.js';
import { memoryModelOf as checkedMode } from '../sched/memory_model.js';
import type { Profile } from '../config.js';
import { CTL, type Loaded, type ModelInfo, type RunRequest, type StepApi, type TraceRow } from './protocol.js';

/** A module of a --model file, bundled into this worker by `slabsim view --model`. */
export interface UserModule {
  file: string;
  exportName?: string;
  mod: Record<string, unknown>;
}

/** The models of the user's files (their default export or the named one: a model or a list). */
function userModels(modules: readonly UserModule[]): Model[] {
  return modules.flatMap(({ file, exportName, mod }) => {
    const name = exportName ?? 'default';
    const value = mod[name];
    return (Array.isArray(value) ? value : [value]).map((x) => checkModel(x, `${file}: export '${name}'`));
  });
}

interface Current {
  cfg: RaceConfig;
  choices: number[];
  steps: number;
  display: Uint32Array;
}

export function startStepWorker(modules: readonly UserModule[]): void {
  const user = userModels(modules);
  const models: Model[] = [...user, ...builtInModels.filter((b) => !user.some((u) => u.name === b.name))];
  const ctl = new Int32Array(new SharedArrayBuffer(CTL.WORDS * 4));
  let cur: Current | null = null;
  let timer: ReturnType<typeof setInterval> | undefined;

  const modelNamed = (name: string): Model => {
    const model = models.find((m) => m.name === name);
    if (!model) throw new SlabError('EINVAL', `no model '${name}' (expected one of ${models.map((m) => m.name).join(', ')})`);
    return model;
  };

  const configOf = (req: RunRequest): RaceConfig => {
    const model = modelNamed(req.model);
    const profile = model.profiles === undefined ? null : ((req.profile ?? model.profiles[0]) as Profile);
    return {
      model,
      profile,
      mutant: (req.mutant || null) as MutantName | null,
      seed: req.seed >>> 0,
      memoryModel: checkedMode(req.memoryModel, 'memory model'),
    };
  };

  /** Replay the loaded schedule cut after `k + 1` steps and publish the machine as step k. */
  const show = (k: number): number => {
    if (!cur) throw new SlabError('EINVAL', 'no run loaded');
    const step = Math.max(-1, Math.min(cur.steps - 1, Math.trunc(k)));
    const r = runRace(cur.cfg, new ReplayStrategy(cur.choices), { stopAfter: step + 1 });
    Atomics.add(ctl, CTL.SEQ, 1);
    cur.display.set(r.machine.u32);
    Atomics.store(ctl, CTL.STEP, step);
    Atomics.add(ctl, CTL.SEQ, 1);
    return step;
  };

  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    Atomics.store(ctl, CTL.PLAYING, 0);
  };

  const load = (schedule: string): Loaded => {
    stop();
    const { cfg, choices } = parseRaceSchedule(schedule, models);
    const r = runRace(cfg, new ReplayStrategy(choices), { trace: true });
    const rows: TraceRow[] = (r.trace ?? []).map((t, i) => {
      const [line, buffersLine = ''] = traceStepLines(t, i);
      return {
        cpu: t.cpu,
        site: t.site,
        state: t.site === '(finished)' ? 'finished' : t.blocked ? 'blocked' : t.spinning ? 'spinning' : 'running',
        accesses: t.accesses ?? [],
        line,
        flush: t.flush === true,
        buffers: t.buffers ?? null,
        buffersLine,
      };
    });
    const display = new SharedArrayBuffer(r.machine.sab.byteLength);
    cur = { cfg, choices, steps: rows.length, display: new Uint32Array(display) };
    const generation = Atomics.add(ctl, CTL.LOAD, 1) + 1;
    show(-1);
    return {
      schedule: raceScheduleString(cfg, choices),
      model: cfg.model.name,
      doc: cfg.model.doc,
      cpus: cfg.model.cpus,
      profile: cfg.profile,
      mutant: cfg.mutant,
      seed: cfg.seed,
      memoryModel: memoryModelOf(cfg),
      trace: rows,
      failed: r.failed,
      messages: r.messages,
      display,
      ctl: ctl.buffer as SharedArrayBuffer,
      generation,
    };
  };

  const api: StepApi = {
    models: (): ModelInfo[] =>
      models.map((m) => ({
        name: m.name,
        doc: m.doc,
        cpus: m.cpus,
        profiles: [...(m.profiles ?? [])],
        mutants: [...(m.mutants ?? [])],
        mutantModes: (m.mutants ?? []).map((x) => (x in MUTANT_MODES ? MUTANT_MODES[x as MutantName] : null)),
        memoryModel: m.memoryModel ?? null,
        user: user.includes(m),
      })),
    load,
    generate(req) {
      const cfg = configOf(req);
      const r = runRace(cfg, new RandomStrategy(cfg.seed));
      return load(raceScheduleString(cfg, r.choices));
    },
    async hunt(req, runs) {
      const cfg = configOf(req);
      const report = await explore(cfg.model, {
        runs,
        seed: cfg.seed,
        mutant: cfg.mutant ?? undefined,
        profiles: cfg.profile ? [cfg.profile] : undefined,
        memoryModel: cfg.memoryModel,
        replayCommand: (schedule) => `slabsim view --schedule '${schedule}'`,
      });
      const failure = report.models[0]?.failure;
      return failure ? load(failure.shrunk) : null;
    },
    seek: show,
    play(stepsPerSecond) {
      stop();
      if (!cur) throw new SlabError('EINVAL', 'no run loaded');
      const every = Math.max(1, Math.round(1000 / Math.max(0.1, stepsPerSecond)));
      Atomics.store(ctl, CTL.PLAYING, 1);
      timer = setInterval(() => {
        const at = Atomics.load(ctl, CTL.STEP);
        if (!cur || at >= cur.steps - 1) return stop();
        show(at + 1);
      }, every);
    },
    pause: stop,
  };
  expose(api);
}
