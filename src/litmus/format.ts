// A litmus result in herd7's output shape (herd/top_herd.ml), so that the two can be
// diffed line by line, and the same as data.
import type { MemoryModel } from '../sched/memory_model.js';
import type { LitmusResult } from './run.js';

/** herd7's lines for one test, ending with a blank line (no Hash or Time: they are herd's own). */
export function herdText(r: LitmusResult): string {
  const lines = [
    `Test ${r.name} ${r.kind}`,
    `States ${r.states.length}`,
    ...r.states.map((st) => st.map((v, i) => `${r.shown[i]}=${v};`).join(' ')),
    r.ok ? 'Ok' : 'No',
    'Witnesses',
    // herd prints the witnesses of a ~exists the other way round (check_wit)
    r.kind === 'Forbidden' ? `Positive: ${r.neg} Negative: ${r.pos}` : `Positive: ${r.pos} Negative: ${r.neg}`,
    `Condition ${r.condition}`,
    `Observation ${r.name} ${r.observation} ${r.pos} ${r.neg}`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}

export const LITMUS_SCHEMA = 'slabsim-litmus/1';

/** The results as data: `slabsim litmus --json`. */
export function litmusJson(memoryModel: MemoryModel, results: readonly LitmusResult[]): object {
  return {
    schema: LITMUS_SCHEMA,
    memory_model: memoryModel,
    tests: results.map((r) => ({
      name: r.name,
      file: r.file,
      kind: r.kind,
      states: r.states.map((st) => Object.fromEntries(st.map((v, i) => [r.shown[i], v]))),
      ok: r.ok,
      positive: r.kind === 'Forbidden' ? r.neg : r.pos,
      negative: r.kind === 'Forbidden' ? r.pos : r.neg,
      condition: r.condition,
      observation: r.observation,
      pos: r.pos,
      neg: r.neg,
      executions: r.executions,
      schedules: r.schedules,
      blocked: r.blocked,
    })),
  };
}
