// Litmus shapes (memory-models.md §6) as race models, for the tests of the memory modes:
// each CPU runs a few accesses to words x, y, z of its own machine, and the outcome is
// what the test asks about (the loads' results, or the final values).
import { alloc, defineModel, type Machine, type Model, type Step, word } from '../../src/index.js';

/** What a CPU's program gets: the machine, the shared words, and its registers (r[i], initially 0). */
export interface Shape {
  m: Machine;
  x: number;
  y: number;
  z: number;
  r: number[];
}

export interface ShapeOptions {
  /** registers r0.. (default 2) */
  registers?: number;
  /** the final state in a few words (default: the registers, r0,r1,...) */
  outcome?: (s: Shape) => string;
  /** an outcome that fails the final check, and the message it fails with */
  forbid?: [outcome: string, message: string];
}

/** A model of `cpus` CPUs running `body`. */
export function shape(name: string, cpus: number, body: (s: Shape, cpu: number) => Step<void>, opts: ShapeOptions = {}): Model {
  const outcome = opts.outcome ?? ((s: Shape) => s.r.join(','));
  return defineModel({
    name,
    cpus,
    doc: `the ${name} shape`,
    create(m) {
      const base = word(m, alloc(m, 64));
      const s: Shape = { m, x: base, y: base + 2, z: base + 4, r: new Array<number>(opts.registers ?? 2).fill(0) };
      return {
        *thread(cpu) {
          yield* body(s, cpu.id);
        },
        outcome: () => outcome(s),
        finalCheck: () => (opts.forbid && outcome(s) === opts.forbid[0] ? [opts.forbid[1]] : []),
      };
    },
  });
}
