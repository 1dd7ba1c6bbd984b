// One execution as dynamic partial-order reduction sees it (memory-models.md §7.1): every
// step of every CPU is an event, with the words it writes and the words it only reads,
// an exact vector clock, and the races it is in.
//
// Dependency: two events of one CPU, or two that touch a common word where one writes
// it. A failed CAS or trylock reads its word; a lock acquisition and release write it; a
// step with no access (a bare schedule point, a CPU's first step) touches nothing. The
// first step of a busy-waiting CPU after its wait ended also reads every word it waited
// on: the write that ended the wait must stay before it in every equivalent execution.
//
// Vector clocks are kept exactly, per word: the clock of the last write and the join of
// the reads since. e happens before f iff VC(f)[cpu(e)] > idx(e).
import { OP } from '../event.js';

/** What an event touches: enough to decide dependency. */
export interface Ev {
  cpu: number;
  op: number;
  /** the access's word (CAS2: the low word of its pair), or -1 */
  word: number;
  /** words written */
  ww: readonly number[];
  /** words only read */
  rw: readonly number[];
}

/** One step of the execution. */
export interface Step extends Ev {
  /** position in the execution, and in its CPU's steps */
  pos: number;
  idx: number;
  /** the pending access's CAS expected value (CAS2: low half) or the value a wait waits on */
  arg: number;
  /** CAS2: the expected high half */
  arg2: number;
  /** the values of the access's words before and after the step */
  before: number[];
  after: number[];
  /** a write that changed a value */
  changed: boolean;
  /** words the step wrote or only read plainly (m.u32 between schedule points; DporRun.plainAccess) */
  pw?: number[];
  pr?: number[];
  /** the first step after a busy-wait: the position of the step that began the wait, and the words it waited on */
  wait?: { from: number; words: number[] };
}

const empty: readonly number[] = [];

/** The words `a` and `b` share, one of them writing: whether they are dependent (same CPU aside). */
function conflict(a: Ev, b: Ev): boolean {
  for (const w of a.ww) if (b.ww.includes(w) || b.rw.includes(w)) return true;
  for (const w of a.rw) if (b.ww.includes(w)) return true;
  return false;
}

/** Dependent events (§7.1): same CPU, or a common word that one of them writes. */
export const dependent = (a: Ev, b: Ev): boolean => a.cpu === b.cpu || conflict(a, b);

/** The words an access of `op` at `word` touches (OP.NONE: none, whatever word the bus still holds). */
export const opWords = (op: number, word: number): number[] =>
  op === OP.NONE || word < 0 ? [] : op === OP.CAS2 ? [word, word + 1] : [word];

/** Per word: the last write and the reads since it. */
interface WordState {
  lastW: number;
  reads: number[];
}

/** A race e ⋖ f found in the execution: positions, and whether it is a lock race (§7.5). */
export interface Race {
  e: number;
  f: number;
  lock: boolean;
}

/** The events of one execution, their clocks and races, as they run. */
export class Execution {
  readonly steps: Step[] = [];
  /** vector clocks, `cpus` ints per step */
  private vc: Int32Array;
  /** each CPU's last step, -1 before its first */
  readonly last: Int32Array;
  /** steps made by each CPU */
  readonly count: Int32Array;
  private readonly words = new Map<number, WordState>();
  /** per word, the positions of the steps that wrote it, ascending */
  private readonly writes = new Map<number, number[]>();
  /** per lock word, the position of its last acquisition */
  private readonly acquired = new Map<number, number>();

  constructor(readonly cpus: number) {
    this.vc = new Int32Array(cpus * 256);
    this.last = new Int32Array(cpus).fill(-1);
    this.count = new Int32Array(cpus);
  }

  /** `a` happens before `b` (positions, a < b). */
  hb(a: number, b: number): boolean {
    const s = this.steps[a];
    return this.vc[b * this.cpus + s.cpu] > s.idx;
  }

  /**
   * Append a step (pos and idx are filled in), compute its clock, and return the races it
   * is in as the later event: its dependent predecessors not already before its CPU's
   * previous step, less those before another such predecessor; and for a lock
   * acquisition, the previous acquisition of the lock by another CPU when only the lock
   * orders them (the release→acquire edge left out).
   */
  add(s: Step, collect = true): Race[] {
    const n = this.cpus;
    const p = s.cpu;
    const pos = this.steps.length;
    s.pos = pos;
    s.idx = this.count[p]++;
    if ((pos + 1) * n > this.vc.length) {
      const grown = new Int32Array(this.vc.length * 2);
      grown.set(this.vc);
      this.vc = grown;
    }
    const row = pos * n;
    const prev = this.last[p];
    if (prev >= 0) this.vc.copyWithin(row, prev * n, prev * n + n);
    else this.vc.fill(0, row, row + n);
    const candidates: number[] = [];
    const join = (j: number): void => {
      const from = j * n;
      for (let q = 0; q < n; q++) if (this.vc[from + q] > this.vc[row + q]) this.vc[row + q] = this.vc[from + q];
      if (collect) candidates.push(j);
    };
    for (const w of s.ww) {
      const st = this.words.get(w);
      if (!st) continue;
      if (st.lastW >= 0) join(st.lastW);
      for (const r of st.reads) join(r);
    }
    for (const w of s.rw) {
      const st = this.words.get(w);
      if (st && st.lastW >= 0) join(st.lastW);
    }
    this.vc[row + p] = s.idx + 1;
    this.steps.push(s);
    this.last[p] = pos;

    // Races: candidates by another CPU, not before p's previous step, not before another candidate.
    const races: Race[] = [];
    if (!collect) {
      this.record(s, pos);
      return races;
    }
    const before = (j: number): boolean => prev >= 0 && this.hb(j, prev);
    const direct = candidates.filter((j) => this.steps[j].cpu !== p && !before(j));
    for (const j of direct) {
      if (direct.some((k) => k !== j && j < k && this.hb(j, k))) continue;
      if (!races.some((r) => r.e === j)) races.push({ e: j, f: pos, lock: false });
    }
    if (isAcquisition(s)) {
      const a1 = this.acquired.get(s.word);
      if (a1 !== undefined && this.steps[a1].cpu !== p && !before(a1) && !races.some((r) => r.e === a1))
        races.push({ e: a1, f: pos, lock: true });
    }
    this.record(s, pos);
    return races;
  }

  /** The word states after step `s` at `pos`. */
  private record(s: Step, pos: number): void {
    if (isAcquisition(s)) this.acquired.set(s.word, pos);
    for (const w of s.ww) {
      const st = this.words.get(w);
      if (st) {
        st.lastW = pos;
        st.reads = [];
      } else this.words.set(w, { lastW: pos, reads: [] });
      const list = this.writes.get(w);
      if (list) list.push(pos);
      else this.writes.set(w, [pos]);
    }
    for (const w of s.rw) {
      const st = this.words.get(w);
      if (st) st.reads.push(pos);
      else this.words.set(w, { lastW: -1, reads: [pos] });
    }
  }

  /** notdep(e, E) up to `end` (exclusive): the steps after e that do not happen after it, in order. */
  notdep(e: number, end = this.steps.length): Step[] {
    const out: Step[] = [];
    for (let j = e + 1; j < end; j++) if (!this.hb(e, j)) out.push(this.steps[j]);
    return out;
  }

  /**
   * Step f as it would be if it ran where e ran, after the steps that do not happen after
   * e (§7.3: the racing event re-evaluated at the reversal point): its kind (a CAS takes
   * or fails, a trylock) from the values its words would hold there, and whether it could
   * move there at all (a lock is free, a waited-on word has changed, a busy-wait has been
   * ended by a write that stays before it).
   */
  reversed(f: Step, e: number): { enabled: boolean; ev: Ev } {
    const skip = (j: number): boolean => j >= e && (j === e || this.hb(e, j));
    const words = opWords(f.op, f.word);
    const v = words.map((w) => this.valueAt(w, f, skip));
    let enabled = true;
    let write = f.ww.length > 0 && f.ww.includes(f.word);
    switch (f.op) {
      case OP.CAS:
        write = (v[0] | 0) === f.arg;
        break;
      case OP.CAS2:
        write = (v[0] | 0) === f.arg && (v[1] | 0) === f.arg2;
        break;
      case OP.TRYLOCK:
        write = v[0] === 0;
        break;
      case OP.LOCK:
        enabled = v[0] === 0;
        break;
      case OP.WAIT:
        enabled = v[0] !== f.arg >>> 0;
        break;
    }
    if (f.wait) enabled &&= this.waitEnded(f, skip);
    const waited = f.rw.filter((w) => !words.includes(w) && !(f.pr ?? empty).includes(w));
    const pw = f.pw ?? empty;
    const pr = f.pr ?? empty;
    const ev: Ev = {
      cpu: f.cpu,
      op: f.op,
      word: f.word,
      ww: [...(write ? words : empty), ...pw.filter((w) => !words.includes(w))],
      rw: [...(write ? waited : [...words, ...waited]), ...pr.filter((w) => !words.includes(w) && !waited.includes(w))],
    };
    return { enabled, ev };
  }

  /** A write that changed a word the wait of `f` watched lies after its start and is kept. */
  private waitEnded(f: Step, skip: (j: number) => boolean): boolean {
    const wait = f.wait;
    if (!wait) return true;
    for (let j = wait.from + 1; j < f.pos; j++) {
      const s = this.steps[j];
      if (!s.changed || skip(j)) continue;
      if (s.ww.some((w) => wait.words.includes(w))) return true;
    }
    return false;
  }

  /** The value of `word` just before f, with the steps `skip` names left out. */
  private valueAt(word: number, f: Step, skip: (j: number) => boolean): number {
    const list = this.writes.get(word);
    if (list) {
      for (let k = list.length - 1; k >= 0; k--) {
        const j = list[k];
        if (j >= f.pos || skip(j)) continue;
        return valueIn(this.steps[j], word, 'after');
      }
      return valueIn(this.steps[list[0]], word, 'before');
    }
    return valueIn(f, word, 'before');
  }
}

function valueIn(s: Step, word: number, which: 'before' | 'after'): number {
  const i = word === s.word ? 0 : 1;
  return s[which][i] ?? 0;
}

/** A lock taken: spinLock, or a trylock that took it. */
const isAcquisition = (s: Step): boolean => (s.op === OP.LOCK || s.op === OP.TRYLOCK) && s.ww.includes(s.word);
