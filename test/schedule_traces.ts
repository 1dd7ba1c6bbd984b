// What the scheduler sees when a schedule string is replayed, as one digest: every step's
// trace line, the event record after every step (the CPU's event and every CPU's pending
// access, src/sched/event.ts) and the runnable actions at every decision. Shared by
// scripts/schedule_traces.ts (which records the reference) and schedule_strings.test.ts
// (which replays against it), so that a change of what the scheduler sees fails the test.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Model } from '../src/race/model.js';
import { parseRaceSchedule, runRace, traceLines } from '../src/race/run.js';
import { EV, OP } from '../src/sched/event.js';
import type { RunView, StepEvent, Strategy } from '../src/sched/scheduler.js';
import { ReplayStrategy } from '../src/sched/strategies/replay.js';

/** One replayed schedule string, as the fixture stores it. */
export interface TraceRecord {
  schedule: string;
  /** where the string comes from (a file that holds it, or the mutant hunt that found it) */
  source: string;
  steps: number;
  failed: boolean;
  /** the run used every choice */
  finished: boolean;
  outcome: string;
  /** sha256 of the trace lines, events, pending accesses and decisions, in order */
  digest: string;
}

/** The ops whose pending arg means something (src/sched/event.ts). */
const ARG_OPS = new Set<number>([OP.LOAD, OP.STORE, OP.CAS, OP.CAS2, OP.WAIT, OP.FENCE]);

/** ReplayStrategy, writing down what the scheduler shows it. */
class Recording implements Strategy {
  readonly name = 'replay';
  readonly lines: string[] = [];
  private view: RunView | null = null;
  constructor(readonly inner: ReplayStrategy) {}
  begin(run: RunView): void {
    this.view = run;
    this.inner.begin(run);
    this.lines.push(`begin ${this.pending()}`);
  }
  pick(runnable: readonly number[], last: number, step: number): number {
    const c = this.inner.pick(runnable);
    this.lines.push(`pick ${step} [${runnable.join(',')}] last ${last} -> ${c}`);
    return c;
  }
  pickRead(cpu: number, k: number, picked: boolean): number {
    const r = this.inner.pickRead(cpu, k, picked);
    this.lines.push(`read cpu ${cpu} of ${k} ${picked} -> ${r}`);
    return r;
  }
  onStep(e: StepEvent): void {
    // `old` means something only for a write; elsewhere it is what an earlier step left
    const old = e.ev === EV.WRITE ? ` old ${e.old >>> 0}` : '';
    this.lines.push(`step cpu ${e.cpu} op ${e.op} word ${e.word} ev ${e.ev}${old} | ${this.pending()}`);
  }
  private pending(): string {
    const v = this.view;
    if (!v) return '';
    const p = v.pending;
    const rows: string[] = [];
    for (let c = 0; c < v.cpus; c++) {
      // the table keeps an arg its op does not use from an earlier access: leave it out
      const op = p.op[c];
      const arg = ARG_OPS.has(op) ? `/${p.arg[c]}` : '';
      const arg2 = op === OP.CAS2 ? `/${p.arg2[c]}` : '';
      rows.push(`${op}/${p.word[c]}${arg}${arg2}/${v.done[c]}/${v.blocked[c]}`);
    }
    return rows.join(' ');
  }
}

/** Replay `schedule` (against `models`) and digest what the scheduler saw. */
export function traceRecord(models: readonly Model[], schedule: string, source: string): TraceRecord {
  const { cfg, choices } = parseRaceSchedule(schedule, models);
  const strategy = new Recording(new ReplayStrategy(choices));
  const r = runRace(cfg, strategy, { trace: true });
  const hash = createHash('sha256');
  for (const line of traceLines(r.trace ?? [])) hash.update(`${line}\n`);
  for (const line of strategy.lines) hash.update(`${line}\n`);
  return {
    schedule,
    source,
    steps: r.steps,
    failed: r.failed,
    finished: strategy.inner.finished,
    outcome: r.outcome,
    digest: hash.digest('hex'),
  };
}

/** A complete schedule string written in the text (not a pattern or a `v1:...` placeholder). */
const STRING = /\bv[12]:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+:[a-z0-9-]+:\d+(?::[a-z]+)?:[a-z0-9~*+.]+(?![\w\\])/g;

/** The schedule strings the repository's docs, tests and sources hold, each with the file it is in. */
export function storedScheduleStrings(
  root: string,
  dirs = ['docs', 'test', 'src', 'README.md'],
): Array<{ schedule: string; source: string }> {
  const out: Array<{ schedule: string; source: string }> = [];
  const seen = new Set<string>();
  const visit = (rel: string): void => {
    const path = join(root, rel);
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) visit(join(rel, name));
      return;
    }
    if (!/\.(ts|md|mjs)$/.test(rel) || rel.endsWith('.fast.ts') || rel.endsWith('.sched.ts')) return;
    for (const [s] of readFileSync(path, 'utf8').matchAll(STRING))
      if (!seen.has(s)) {
        seen.add(s);
        out.push({ schedule: s, source: rel });
      }
  };
  for (const d of dirs) visit(d);
  return out;
}
