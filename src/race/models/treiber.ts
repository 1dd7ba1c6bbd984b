// The worked example as a model: three CPUs pop and push nodes of a Treiber stack. With
// its tag it is correct; without (mutant untagged-stack) the explorer finds ABA: a CPU
// pops A while another pops A and B and pushes A back, and the head becomes B, which
// the other CPU holds.
import { pop, push } from '../../examples/treiber.sched.js';
import { allocPages } from '../../mm/page_alloc.fast.js';
import { type Machine, addrWord, pfnToAddr } from '../../shm/machine.js';
import type { Model } from '../model.js';

const NODES = 4;
const NODE_BYTES = 64;

export const treiberModel: Model = {
  name: 'treiber-stack',
  doc: 'a tagged Treiber stack: one CPU pops while another pops two and pushes the first back (ABA without the tag)',
  cpus: 3,
  mutants: ['untagged-stack', 'relaxed-treiber-push'],
  // The stack with its nodes is the same for every run: made once.
  prepare(m: Machine): number {
    // One page: the head pair at its start, then the nodes.
    const base = pfnToAddr(m, allocPages(m, 0, 0, 0));
    const head = addrWord(m, base);
    for (let i = NODES; i >= 1; i--) {
      const n = base + NODE_BYTES * i;
      m.u32[addrWord(m, n)] = m.u32[head + 1];
      m.u32[head + 1] = n;
    }
    return base;
  },
  create(m: Machine, _cpus, _profile, base) {
    const head = addrWord(m, base as number);
    const holder = new Map<number, number>();
    const violations: string[] = [];
    const got = (cpu: number, node: number): void => {
      if (node === 0) return;
      if (holder.has(node))
        violations.push(`node 0x${node.toString(16)} popped by CPU${cpu} while CPU${holder.get(node)} holds it`);
      holder.set(node, cpu);
    };
    const stackNodes = (): number[] => {
      const out: number[] = [];
      for (let n = m.u32[head + 1]; n !== 0 && out.length <= NODES; n = m.u32[addrWord(m, n)]) out.push(n);
      return out;
    };
    return {
      *thread(cpu) {
        if (cpu.id === 0) {
          const a = yield* pop(m, head);
          got(0, a);
          if (a) {
            holder.delete(a);
            yield* push(m, head, a);
          }
        } else if (cpu.id === 1) {
          const a = yield* pop(m, head);
          got(1, a);
          const b = yield* pop(m, head);
          got(1, b);
          if (a) {
            holder.delete(a);
            yield* push(m, head, a); // A is back on top: the same pointer, a different next
          }
          if (b) {
            holder.delete(b);
            yield* push(m, head, b);
          }
        } else {
          const c = yield* pop(m, head);
          got(2, c);
          if (c) {
            holder.delete(c);
            yield* push(m, head, c);
          }
        }
      },
      stepCheck: () => violations[0] ?? null,
      finalCheck() {
        const out = [...violations];
        const on = stackNodes();
        if (on.length !== NODES || new Set(on).size !== NODES)
          out.push(`stack holds ${on.length} nodes (${new Set(on).size} distinct), expected all ${NODES}`);
        return out;
      },
      outcome: () => `top 0x${m.u32[head + 1].toString(16)}`,
    };
  },
};
