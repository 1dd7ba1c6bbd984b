/* @two-way */
// Worked example for docs/explore.md: a Treiber stack in simulated memory, written with
// the machine's shared-memory primitives so that the explorer can interleave it.
// The head is one 64-bit word: lo = tag (bumped by every push and pop), hi = top node.
// Without the tag (mutant untagged-stack) a pop can succeed with a stale `next`: ABA.
// Orderings (the kernel's llist and every C Treiber stack): a push writes its node's
// next, then publishes the node with a fully ordered cmpxchg, so no CPU that finds the
// node on top reads an older next; a pop reads top->next through the pointer it just
// read (an address dependency). Mutant relaxed-treiber-push: the push's CAS is relaxed,
// and the next store may reach memory after the node is on top.
import { mutant } from '../mm/slub/mutants.js';
import { type Step, site } from '../sched/step.js';
import { cas32, cas64, cas64Relaxed, load32, loadDep32, store32 } from '../shm/atomic.js';
import { type Machine, addrWord } from '../shm/machine.js';

const S_PUSH = site('treiber_push');
const S_POP = site('treiber_pop');

/** `head` is the word index of the stack head; a node's first word is its next pointer. */
export function* push(m: Machine, head: number, node: number): Step {
  for (;;) {
    const tag = yield* load32(m, head, S_PUSH);
    const top = yield* load32(m, head + 1, S_PUSH);
    yield* store32(m, addrWord(m, node), top, S_PUSH);
    if (yield* swing(m, head, tag, top, node, mutant.relaxedTreiberPush)) return;
  }
}

/** Pop the top node, or 0 when the stack is empty. */
export function* pop(m: Machine, head: number): Step<number> {
  for (;;) {
    const tag = yield* load32(m, head, S_POP);
    const top = yield* load32(m, head + 1, S_POP);
    if (top === 0) return 0;
    // READ_ONCE(top->next): its address comes from the load of top just before it.
    const next = yield* loadDep32(m, addrWord(m, top), S_POP);
    if (yield* swing(m, head, tag, top, next)) return top;
  }
}

/**
 * Move the head from (tag, top) to (tag + 1, to): one fully ordered CAS on the pair (a
 * relaxed one when `relaxed`), or on the pointer alone (mutant untagged-stack).
 */
function* swing(m: Machine, head: number, tag: number, top: number, to: number, relaxed = false): Step<boolean> {
  if (mutant.untaggedStack) return yield* cas32(m, head + 1, top, to, S_POP);
  if (relaxed) return yield* cas64Relaxed(m, head, tag, top, (tag + 1) >>> 0, to, S_POP);
  return yield* cas64(m, head, tag, top, (tag + 1) >>> 0, to, S_POP);
}
