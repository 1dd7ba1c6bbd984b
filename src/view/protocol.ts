// What the viewer's page and its workers say to each other (through comlink), and the
// control words they share. Drawing never goes through messages: the page reads the
// machine's buffer each frame.
import type { MemoryModel } from '../sched/memory_model.js';
import type { Access } from '../sched/scheduler.js';
import type { BufferedStore } from '../sched/weak.js';

/** A model the step worker can load. */
export interface ModelInfo {
  name: string;
  doc: string;
  cpus: number;
  /** kernel profiles it runs on; empty for a model that runs no kernel code */
  profiles: string[];
  mutants: string[];
  /** the memory mode that finds each mutant (MUTANT_MODES), null for a user model's */
  mutantModes: Array<MemoryModel | null>;
  /** the model's own memory mode, when it names one */
  memoryModel: MemoryModel | null;
  /** from a --model file (shown first) */
  user: boolean;
}

/** One step of the loaded run, as `slabsim replay --trace` prints it. */
export interface TraceRow {
  cpu: number;
  /** where the CPU stopped after the step: its next schedule point, or '(finished)' */
  site: string;
  state: 'running' | 'blocked' | 'spinning' | 'finished';
  accesses: Access[];
  /** the line of `slabsim replay --trace` */
  line: string;
  /** weaker memory modes: the step was a flush (a store of this CPU's buffer reached memory) */
  flush: boolean;
  /** weaker memory modes: every CPU's store buffer after the step, oldest first; null under sc */
  buffers: BufferedStore[][] | null;
  /** the `buffers:` line replay --trace prints under the step's line ('' when every buffer is empty) */
  buffersLine: string;
}

/** A loaded run: its schedule, every step, how it ended, and the buffers the page reads. */
export interface Loaded {
  schedule: string;
  model: string;
  doc: string;
  cpus: number;
  profile: string | null;
  mutant: string | null;
  seed: number;
  memoryModel: MemoryModel;
  trace: TraceRow[];
  failed: boolean;
  messages: string[];
  /**
   * The machine as of the step shown in CTL[STEP]: the worker copies its machine here
   * after each seek (the page reads it, never the machine being replayed)
   */
  display: SharedArrayBuffer;
  /** control words: see CTL */
  ctl: SharedArrayBuffer;
  /** CTL[LOAD] of this run */
  generation: number;
}

/**
 * Words of the step worker's control buffer (Int32). SEQ is odd while the worker writes
 * the display copy: a page that read SEQ even and unchanged around its drawing drew one
 * step, whole. LOAD is the generation of the loaded run: a page still showing an earlier
 * load draws nothing until it has the new one's trace.
 */
export const CTL = { SEQ: 0, STEP: 1, PLAYING: 2, LOAD: 3, WORDS: 4 } as const;

/** A new run of a model: a seeded random schedule, or a hunt for a failing one. */
export interface RunRequest {
  model: string;
  profile: string | null;
  mutant: string | null;
  seed: number;
  memoryModel: MemoryModel;
}

/** The step worker's API (src/view/step_worker.ts). Steps are trace line numbers: -1 is before the first. */
export interface StepApi {
  models(): ModelInfo[];
  /** replay a schedule string; shows step -1 */
  load(schedule: string): Loaded;
  /** a run under a random schedule of the given seed */
  generate(req: RunRequest): Loaded;
  /** explore up to `runs` schedules from the seed; the shrunk failure, or null when none failed */
  hunt(req: RunRequest, runs: number): Promise<Loaded | null>;
  /** show the machine after step k (a replay cut after k + 1 steps); returns the step shown */
  seek(k: number): number;
  /** step forward at `stepsPerSecond` until the last step or pause() */
  play(stepsPerSecond: number): void;
  pause(): void;
}

/** A CPU worker of live mode (src/view/cpu_worker.ts): runs one CPU's program, free-running, to its end. */
export interface CpuApi {
  run(task: import('../workload/task.js').CpuTask): import('../workload/task.js').CpuResult;
}
