// The weaker memory modes (docs/memory-models.md; the design is
// ../shared/spec/memory-models.md §1-§5): store buffers, per-word message histories and
// per-CPU views, kept on the explorer's thread beside the machine, never in it.
//
// Invariants:
// - The SharedArrayBuffer always holds the coherence-latest value of every word: a
//   buffered store is in no word until its flush, and every write that reaches memory
//   (a flush, an RMW, an Atomics store) writes the word then. So every check, and the
//   view, read memory as under sc.
// - tso: a CPU's buffer is FIFO; only its oldest store may flush. No histories, no views.
// - arm, js: a word written in this run has a slot, and its history holds its messages
//   {ts, val} oldest first, the newest equal to the word (a plain write by two-way code,
//   which bypasses all this, is taken in as a new message before the word is next read).
//   Message 0 {ts 0, the value at the first write} until HISTORY messages push it out.
// - Timestamps: T counts the writes that reached memory in this run (one global order of
//   writes: the model is multicopy-atomic, as ARMv8 is).
// - Views per CPU (names of Promising-ARM): vrn bounds from below what later loads may
//   read, vro is the newest message earlier loads read, vwo the newest own write that
//   reached memory, vul vro when the CPU last queued a spin_unlock, lastPost the view of
//   its last load (for loadDep32); coh[slot][cpu] the newest message of the word it has
//   seen. All but lastPost only grow within a run.
import { ModelError } from '../errors.js';
import { schedBus } from '../shm/atomic.js';
import type { Machine } from '../shm/machine.js';
import { EV, FENCE, LOAD, ORDER } from './event.js';
import type { MemoryModel } from './memory_model.js';
import { watchPlainAccesses } from './plain_check.js';
import { thisCpu } from './this_cpu.js';

/** Messages kept per word (loom keeps 7): an older one is no longer readable. */
export const HISTORY = 8;
/** StoreBuffer flags */
const REL = 1;
const UNLOCK = 2;

/** The modes that have store buffers. */
export type WeakMode = Exclude<MemoryModel, 'sc'>;

/** One store waiting in a CPU's store buffer, as traces show it. */
export interface BufferedStore {
  /** the word */
  word: number;
  /** the value it will write */
  value: number;
  /** its smp_wmb epoch: a store never reaches memory before one of a smaller epoch */
  epoch: number;
  /** a release store (storeRelease32, spin_unlock under arm): every older store reaches memory first */
  release?: true;
  /** a spin_unlock */
  unlock?: true;
}

/** What a weak-mode access adds to its line in a trace (src/sched/scheduler.ts Access). */
export interface WeakNote {
  order?: string;
  buffered?: true;
  forwarded?: true;
  stale?: number;
}

const NOTE_BUFFERED: WeakNote = { buffered: true };
const NOTE_FORWARDED: WeakNote = { forwarded: true };
const LOAD_ORDER = ['', 'acquire', 'dep', 'sc'];
const RMW_ORDER = ['', 'relaxed', 'acquire', 'release'];
const RMW_SUFFIX = ['', 'Relaxed', 'Acquire', 'Release'];
const FENCE_NAME = ['mb', 'wmb', 'rmb'];

/** `a` copied into a new array of `size` elements. */
function grown<A extends Int32Array | Uint32Array | Uint8Array>(a: A, size: number): A {
  const b = new (a.constructor as new (n: number) => A)(size);
  b.set(a);
  return b;
}

/** One CPU's store buffer, oldest first (parallel arrays, grown on demand). */
class StoreBuffer {
  word = new Int32Array(8);
  val = new Uint32Array(8);
  epoch = new Int32Array(8);
  flags = new Uint8Array(8);
  len = 0;

  push(word: number, val: number, epoch: number, flags: number): void {
    if (this.len === this.word.length) {
      const size = 2 * this.len;
      this.word = grown(this.word, size);
      this.val = grown(this.val, size);
      this.epoch = grown(this.epoch, size);
      this.flags = grown(this.flags, size);
    }
    const i = this.len++;
    this.word[i] = word;
    this.val[i] = val;
    this.epoch[i] = epoch;
    this.flags[i] = flags;
  }

  removeAt(i: number): void {
    const end = this.len--;
    this.word.copyWithin(i, i + 1, end);
    this.val.copyWithin(i, i + 1, end);
    this.epoch.copyWithin(i, i + 1, end);
    this.flags.copyWithin(i, i + 1, end);
  }

  /** index of the newest store to `word`, or -1 */
  newest(word: number): number {
    for (let i = this.len - 1; i >= 0; i--) if (this.word[i] === word) return i;
    return -1;
  }

  /** index of the newest store with `flag`, or -1 */
  newestFlagged(flag: number): number {
    for (let i = this.len - 1; i >= 0; i--) if (this.flags[i] & flag) return i;
    return -1;
  }
}

/** The store buffers, histories and views of one machine's runs in a weaker mode. */
export class WeakMemory {
  mode: WeakMode = 'tso';
  /** arm or js: histories and views */
  private views = false;
  private js = false;
  readonly n: number;
  /** the machine, and its own words (never the debug check's proxy) */
  private readonly m: Machine;
  private readonly u32: Uint32Array;
  private readonly bufs: StoreBuffer[];
  /** stores in all buffers */
  buffered = 0;
  /** writes that reached memory in this run */
  private T = 0;
  private readonly epoch: Int32Array;
  private readonly vrn: Int32Array;
  private readonly vro: Int32Array;
  private readonly vwo: Int32Array;
  private readonly vul: Int32Array;
  private readonly lastPost: Int32Array;
  /** per CPU: indices of its flushable stores (arm, js), valid unless dirty */
  private readonly flushable: Int32Array[];
  private readonly flushableCount: Int32Array;
  private readonly dirty: Uint8Array;
  /** word -> its slot (0: never written in this run) */
  private readonly slotOf: Int32Array;
  private slots = 0;
  private slotWord = new Int32Array(64);
  private histTs = new Int32Array(64 * HISTORY);
  private histVal = new Uint32Array(64 * HISTORY);
  private histLen = new Uint8Array(64);
  private coh: Int32Array;
  /** the read choice of the load the CPU about to move makes (set by the scheduler, 0: newest) */
  nextRead = 0;

  constructor(m: Machine) {
    const n = m.cfg.cpus;
    this.n = n;
    this.m = m;
    this.u32 = m.u32;
    this.bufs = Array.from({ length: n }, () => new StoreBuffer());
    this.epoch = new Int32Array(n);
    this.vrn = new Int32Array(n);
    this.vro = new Int32Array(n);
    this.vwo = new Int32Array(n);
    this.vul = new Int32Array(n);
    this.lastPost = new Int32Array(n);
    this.flushable = Array.from({ length: n }, () => new Int32Array(8));
    this.flushableCount = new Int32Array(n);
    this.dirty = new Uint8Array(n);
    this.slotOf = new Int32Array(this.u32.length);
    this.coh = new Int32Array(64 * n);
  }

  /** Start a run in `mode`: empty buffers, no histories, views at 0. */
  reset(mode: WeakMode): this {
    this.mode = mode;
    this.views = mode !== 'tso';
    this.js = mode === 'js';
    for (const b of this.bufs) b.len = 0;
    this.buffered = 0;
    this.T = 0;
    this.epoch.fill(0);
    this.vrn.fill(0);
    this.vro.fill(0);
    this.vwo.fill(0);
    this.vul.fill(0);
    this.lastPost.fill(0);
    this.flushableCount.fill(0);
    this.dirty.fill(0);
    for (let s = 1; s <= this.slots; s++) this.slotOf[this.slotWord[s]] = 0;
    this.slots = 0;
    this.nextRead = 0;
    return this;
  }

  /** Install the debug check of plain accesses for a run (src/sched/plain_check.ts); returns its undo. */
  watchPlainAccesses(): () => void {
    return watchPlainAccesses(this.m, this);
  }

  /** CPU c's buffer holds a store to `word`. */
  pending(c: number, word: number): boolean {
    return this.bufs[c].newest(word) >= 0;
  }

  /** CPU c's buffer holds a store. */
  anyPending(c: number): boolean {
    return this.bufs[c].len > 0;
  }

  // ---- the scheduler's side ----

  /**
   * Append the flush actions of this state to `out` from index k, ascending: n·(1 + j) + c
   * flushes the j-th flushable store of CPU c. Returns the new length.
   */
  flushActions(out: number[], k: number): number {
    if (this.buffered === 0) return k;
    const n = this.n;
    if (!this.views) {
      for (let c = 0; c < n; c++) if (this.bufs[c].len > 0) out[k++] = n + c;
      return k;
    }
    let most = 0;
    for (let c = 0; c < n; c++) {
      if (this.dirty[c]) this.findFlushable(c);
      if (this.flushableCount[c] > most) most = this.flushableCount[c];
    }
    for (let j = 0; j < most; j++) for (let c = 0; c < n; c++) if (this.flushableCount[c] > j) out[k++] = n * (1 + j) + c;
    return k;
  }

  /** Carry out flush action `action` (one of flushActions'): returns the word written. */
  flushAction(action: number): number {
    const n = this.n;
    const c = action % n;
    const j = ((action / n) | 0) - 1;
    const i = this.views ? this.flushable[c][j] : 0;
    const word = this.bufs[c].word[i];
    schedBus.ev = EV.WRITE;
    schedBus.old = this.u32[word];
    this.flushEntry(c, i, 0);
    return word;
  }

  /** The values a load of `kind` by `cpu` could read from `word` now (1: no choice). */
  readChoices(cpu: number, word: number, kind: number): number {
    if (this.js && kind === LOAD.DEP) kind = LOAD.PLAIN; // JS orders no dependency
    if (!this.views || kind === LOAD.SC || this.bufs[cpu].newest(word) >= 0) return 1;
    const s = this.slotOf[word];
    if (s === 0) return 1;
    this.sync(s, word);
    return this.histLen[s] - this.readBase(cpu, s, kind);
  }

  /** The word flush action `action` would write. */
  flushWord(action: number): number {
    const n = this.n;
    const c = action % n;
    if (this.views && this.dirty[c]) this.findFlushable(c);
    return this.bufs[c].word[this.views ? this.flushable[c][((action / n) | 0) - 1] : 0];
  }

  /**
   * Everything of this run's weak state that decides what can happen next, as text: the
   * buffers, the clock, each CPU's epoch and views, each written word's history and the
   * CPUs' coherence views of it. Two states with the same key (and the same memory and
   * programs) have the same futures: a stateful search (src/litmus/run.ts) merges them.
   */
  stateKey(): string {
    let key = `${this.T}|${this.epoch}|${this.vrn}|${this.vro}|${this.vwo}|${this.vul}|${this.lastPost}|`;
    for (const b of this.bufs) {
      for (let i = 0; i < b.len; i++) key += `${b.word[i]}:${b.val[i]}:${b.epoch[i]}:${b.flags[i]},`;
      key += '/';
    }
    for (let s = 1; s <= this.slots; s++) {
      key += `|${this.slotWord[s]}=`;
      for (let i = 0; i < this.histLen[s]; i++) key += `${this.histTs[s * HISTORY + i]}.${this.histVal[s * HISTORY + i]},`;
      for (let c = 0; c < this.n; c++) key += `${this.coh[s * this.n + c]},`;
    }
    return key;
  }

  /** Every CPU's buffer, oldest store first (for traces). */
  snapshotBuffers(): BufferedStore[][] {
    return this.bufs.map((b) => {
      const out: BufferedStore[] = [];
      for (let i = 0; i < b.len; i++) {
        const e: BufferedStore = { word: b.word[i], value: b.val[i], epoch: b.epoch[i] };
        if (b.flags[i] & REL) e.release = true;
        if (b.flags[i] & UNLOCK) e.unlock = true;
        out.push(e);
      }
      return out;
    });
  }

  // ---- the primitives' side (src/shm/atomic.ts): the CPU is thisCpu.id ----

  /** load32, loadAcquire32, loadDep32, atomicLoad32 (kind: LOAD). */
  load(word: number, kind: number, site: number): number {
    const c = thisCpu.id;
    if (this.js && kind === LOAD.DEP) kind = LOAD.PLAIN; // JS orders no dependency
    if (kind === LOAD.ACQUIRE && this.js) refuse('loadAcquire32', this.mode);
    schedBus.ev = EV.READ;
    schedBus.read = word;
    const i = this.nextRead;
    this.nextRead = 0;
    if (kind === LOAD.SC) {
      this.mb(c, site);
      const v = this.readNewest(c, word, false);
      this.mb(c, site);
      schedBus.trace?.('load', site, word, v, undefined, { order: 'sc' });
      return v;
    }
    const b = this.bufs[c];
    const f = b.newest(word);
    if (f >= 0) {
      const v = b.val[f];
      if (this.views) this.afterRead(c, -1, this.vrn[c], kind === LOAD.ACQUIRE);
      schedBus.trace?.(
        'load',
        site,
        word,
        v,
        undefined,
        kind === LOAD.PLAIN ? NOTE_FORWARDED : { forwarded: true, order: LOAD_ORDER[kind] },
      );
      return v;
    }
    const s = this.views ? this.slotOf[word] : 0;
    if (s === 0) {
      const v = this.u32[word];
      if (this.views) this.afterRead(c, -1, this.preView(c, kind), kind === LOAD.ACQUIRE);
      if (schedBus.trace)
        schedBus.trace('load', site, word, v, undefined, kind === LOAD.PLAIN ? undefined : { order: LOAD_ORDER[kind] });
      return v;
    }
    this.sync(s, word);
    const len = this.histLen[s];
    const at = Math.max(this.readBase(c, s, kind), len - 1 - i);
    const m = s * HISTORY + at;
    const v = this.histVal[m];
    this.afterRead(c, s, Math.max(this.preView(c, kind), this.histTs[m]), kind === LOAD.ACQUIRE);
    if (schedBus.trace) {
      const note: WeakNote = {};
      if (kind !== LOAD.PLAIN) note.order = LOAD_ORDER[kind];
      if (at !== len - 1) note.stale = this.u32[word];
      schedBus.trace('load', site, word, v, undefined, note);
    }
    return v;
  }

  /** store32, storeRelease32, atomicStore32 (order: RELAXED plain, RELEASE, FULL Atomics.store). */
  store(word: number, value: number, order: number, site: number): void {
    const c = thisCpu.id;
    value >>>= 0;
    if (order === ORDER.FULL) {
      // Atomics.store: an SC store (x86: XCHG; the naive mapping: mb, store, mb).
      this.mb(c, site);
      this.report(word, this.writeNow(c, word, value));
      this.mb(c, site);
      schedBus.trace?.('store', site, word, value, undefined, { order: 'sc' });
      return;
    }
    if (order === ORDER.RELEASE && this.js) refuse('storeRelease32', this.mode);
    this.enqueue(c, word, value, order === ORDER.RELEASE && this.views ? REL : 0);
    schedBus.trace?.(
      'store',
      site,
      word,
      value,
      undefined,
      order === ORDER.RELEASE ? { buffered: true, order: 'release' } : NOTE_BUFFERED,
    );
  }

  /** cas32, cmpxchg32 and their ordered forms (`name`: the primitive): the value found (expect when it took). */
  cas(word: number, expect: number, value: number, order: number, site: number, name: string): number {
    const c = thisCpu.id;
    if (this.js && order !== ORDER.FULL) refuse(`${name}${RMW_SUFFIX[order]}`, this.mode);
    const found = this.current(c, word);
    if (found !== expect >>> 0) {
      this.failedRmw(c, word, site);
      schedBus.ev = EV.READ;
      schedBus.old = found;
      schedBus.read = word;
      schedBus.trace?.('cas', site, word, value >>> 0, false, this.rmwNote(order));
      return found;
    }
    this.report(word, this.rmw(c, word, value >>> 0, order, site));
    schedBus.trace?.('cas', site, word, value >>> 0, true, this.rmwNote(order));
    return found;
  }

  /** cas64 (cmpxchg_double) on the pair at even `word`, and its ordered forms. */
  cas2(word: number, expLo: number, expHi: number, newLo: number, newHi: number, order: number, site: number): boolean {
    const c = thisCpu.id;
    if (this.js && order !== ORDER.FULL) refuse(`cas64${RMW_SUFFIX[order]}`, this.mode);
    if (this.current(c, word) !== expLo >>> 0 || this.current(c, word + 1) !== expHi >>> 0) {
      this.failedRmw(c, word, site, word + 1);
      schedBus.ev = EV.READ;
      schedBus.read = word;
      schedBus.trace?.('cas2', site, word, newHi >>> 0, false, this.rmwNote(order));
      return false;
    }
    const oldLo = this.current(c, word);
    const oldHi = this.current(c, word + 1);
    this.beforeRmw(c, word, word + 1, order, site);
    let from = 0;
    if (this.views) {
      const s0 = this.slotFor(word);
      const s1 = this.slotFor(word + 1);
      this.sync(s0, word);
      this.sync(s1, word + 1);
      from = Math.max(this.newestTs(s0), this.newestTs(s1));
      const ts = ++this.T;
      this.pushMsg(s0, ts, newLo >>> 0);
      this.pushMsg(s1, ts, newHi >>> 0);
      this.coh[s0 * this.n + c] = ts;
      this.coh[s1 * this.n + c] = ts;
    } else this.T++;
    this.u32[word] = newLo;
    this.u32[word + 1] = newHi;
    this.afterRmw(c, from, order);
    schedBus.ev = EV.WRITE;
    schedBus.old = oldLo;
    if (oldLo !== newLo >>> 0 || oldHi !== newHi >>> 0) schedBus.written.push(word, word + 1);
    else schedBus.read = word;
    schedBus.trace?.('cas2', site, word, newHi >>> 0, true, this.rmwNote(order));
    return true;
  }

  /** add32 and its ordered forms: the old value. */
  add(word: number, delta: number, order: number, site: number): number {
    const c = thisCpu.id;
    if (this.js && order !== ORDER.FULL) refuse(`add32${RMW_SUFFIX[order]}`, this.mode);
    const old = this.rmw(c, word, (this.current(c, word) + delta) >>> 0, order, site);
    this.report(word, old);
    schedBus.trace?.('add', site, word, old, undefined, this.rmwNote(order));
    return old;
  }

  /** xchg32 and its ordered forms: the old value. */
  xchg(word: number, value: number, order: number, site: number): number {
    const c = thisCpu.id;
    if (this.js && order !== ORDER.FULL) refuse(`xchg32${RMW_SUFFIX[order]}`, this.mode);
    const old = this.rmw(c, word, value >>> 0, order, site);
    this.report(word, old);
    schedBus.trace?.('xchg', site, word, old, undefined, this.rmwNote(order));
    return old;
  }

  /** Whether fence(kind) does anything in this mode (if not, it is no schedule point either). */
  fenceHasEffect(kind: number): boolean {
    return this.views || kind === FENCE.MB;
  }

  /** fence('mb' | 'wmb' | 'rmb'). */
  fence(kind: number, site: number): void {
    const c = thisCpu.id;
    if (this.js) refuse(`fence('${FENCE_NAME[kind]}')`, this.mode);
    if (kind === FENCE.MB) this.mb(c, site);
    else if (kind === FENCE.WMB) {
      this.epoch[c]++;
      this.dirty[c] = 1;
    } else this.vrn[c] = Math.max(this.vrn[c], this.vro[c]);
    schedBus.trace?.('fence', site, -1, 0, undefined, { order: FENCE_NAME[kind] });
  }

  /**
   * spin_lock / spin_trylock: take `word` if the value this CPU sees (its own buffered one,
   * else memory) is 0; false (no effect: the caller blocks, or trylock fails) otherwise.
   */
  lock(word: number, site: number, trylock: boolean): boolean {
    const c = thisCpu.id;
    const kind = trylock ? 'trylock' : 'lock';
    if (this.current(c, word) !== 0) {
      if (trylock) {
        // A failed trylock reads: a LOCK'd CMPXCHG under tso, a plain load under arm.
        this.failedRmw(c, word, site);
        schedBus.ev = EV.READ;
        schedBus.read = word;
      }
      schedBus.trace?.(kind, site, word, 1, false);
      return false;
    }
    if (this.views && !this.js) {
      // Unlock then lock on one CPU (memory-models.md §3.1): everything before the
      // CPU's last spin_unlock reaches memory first, and its loads since are ordered.
      const u = this.bufs[c].newestFlagged(UNLOCK);
      for (let i = 0; i <= u; i++) this.flushEntry(c, 0, site);
      this.vrn[c] = Math.max(this.vrn[c], this.vul[c]);
    }
    // spin_lock is an acquire; under js a lock is an Atomics.compareExchange (sequentially consistent).
    this.report(word, this.rmw(c, word, 1, this.js ? ORDER.FULL : ORDER.ACQUIRE, site));
    schedBus.trace?.(kind, site, word, 1, true);
    return true;
  }

  /** spin_unlock: a (release) store of 0, buffered; an Atomics.store under js. */
  unlock(word: number, site: number): void {
    const c = thisCpu.id;
    if (this.js) {
      this.mb(c, site);
      this.report(word, this.writeNow(c, word, 0));
      this.mb(c, site);
    } else {
      this.vul[c] = this.vro[c];
      this.enqueue(c, word, 0, this.views ? REL | UNLOCK : UNLOCK);
    }
    schedBus.trace?.('unlock', site, word, 0, undefined, this.js ? undefined : NOTE_BUFFERED);
  }

  /**
   * waitWhile: false (the caller blocks) while the newest value this CPU can see is `seen`;
   * else a load of that newest value, with acquire's ordering if asked.
   */
  waitWhile(word: number, seen: number, acquire: boolean): boolean {
    const c = thisCpu.id;
    if (acquire && this.js) refuse('waitWhileAcquire', this.mode);
    schedBus.ev = EV.READ;
    if (this.current(c, word) === seen >>> 0) return false;
    this.readNewest(c, word, acquire);
    return true;
  }

  // ---- the rules ----

  /**
   * The value `cpu` would read with no choice: its own newest buffered store, else memory
   * (also peek32()'s, src/shm/atomic.ts).
   */
  current(c: number, word: number): number {
    const b = this.bufs[c];
    const f = b.newest(word);
    return f >= 0 ? b.val[f] : this.u32[word];
  }

  private enqueue(c: number, word: number, value: number, flags: number): void {
    schedBus.ev = EV.WRITE;
    schedBus.old = this.current(c, word);
    this.bufs[c].push(word, value, this.epoch[c], flags);
    this.buffered++;
    this.dirty[c] = 1;
  }

  /** An RMW's write reported as sc reports it: a change wakes waiters, else it counts as a read. */
  private report(word: number, old: number): void {
    schedBus.ev = EV.WRITE;
    schedBus.old = old;
    if (old !== this.u32[word]) schedBus.written.push(word);
    else schedBus.read = word;
  }

  private rmwNote(order: number): WeakNote | undefined {
    return order === ORDER.FULL ? undefined : { order: RMW_ORDER[order] };
  }

  /** smp_mb: drain the buffer, then order later loads after everything before (arm's dmb ish). */
  private mb(c: number, site: number): void {
    while (this.bufs[c].len > 0) this.flushEntry(c, 0, site);
    if (this.views) this.vrn[c] = Math.max(this.vrn[c], this.vro[c], this.vwo[c]);
  }

  /**
   * Before an RMW's write: tso (LOCK'd) and the fully ordered and release forms flush the
   * whole buffer, the others the stores up to the last one to the RMW's words.
   */
  private beforeRmw(c: number, w0: number, w1: number, order: number, site: number): void {
    const b = this.bufs[c];
    if (!this.views || order === ORDER.FULL || order === ORDER.RELEASE) {
      while (b.len > 0) this.flushEntry(c, 0, site);
    } else {
      let last = Math.max(b.newest(w0), w1 === w0 ? -1 : b.newest(w1));
      // The RMW's write comes after the CPU's last smp_wmb: every store before that wmb
      // reaches memory first (epochs only grow along the buffer).
      for (let i = b.len - 1; i > last; i--) {
        if (b.epoch[i] < this.epoch[c]) {
          last = i;
          break;
        }
      }
      for (let i = 0; i <= last; i++) this.flushEntry(c, 0, site);
    }
    if (this.views && order === ORDER.FULL) this.vrn[c] = Math.max(this.vrn[c], this.vro[c], this.vwo[c]);
  }

  /** After an RMW's write, having read the message of timestamp `from`. */
  private afterRmw(c: number, from: number, order: number): void {
    if (!this.views) return;
    this.vwo[c] = this.T;
    this.vro[c] = Math.max(this.vro[c], from);
    if (order === ORDER.ACQUIRE) this.vrn[c] = Math.max(this.vrn[c], from);
    else if (order === ORDER.FULL) this.vrn[c] = Math.max(this.vrn[c], this.vro[c], this.vwo[c]);
  }

  /** A read-modify-write that writes `value` over the newest message of `word`: the old value. */
  private rmw(c: number, word: number, value: number, order: number, site: number): number {
    this.beforeRmw(c, word, word, order, site);
    let from = 0;
    if (this.views) {
      const s = this.slotFor(word);
      this.sync(s, word);
      from = this.newestTs(s);
    }
    const old = this.writeNow(c, word, value);
    this.afterRmw(c, from, order);
    return old;
  }

  /**
   * A CAS or trylock that failed: LOCK'd under tso, mb + load + mb under js (Atomics are
   * sequentially consistent either way), a plain load of the newest value under arm.
   */
  private failedRmw(c: number, word: number, site: number, word2 = -1): void {
    if (!this.views) return this.mb(c, site);
    if (this.js) this.mb(c, site);
    this.readNewest(c, word, false);
    if (word2 >= 0) this.readNewest(c, word2, false);
    if (this.js) this.mb(c, site);
  }

  /** A write that reaches memory now (a flush, an RMW, an Atomics store): the old value. */
  private writeNow(c: number, word: number, value: number): number {
    const old = this.u32[word];
    const ts = ++this.T;
    if (this.views) {
      const s = this.slotFor(word);
      this.sync(s, word);
      this.pushMsg(s, ts, value);
      this.coh[s * this.n + c] = ts;
      this.vwo[c] = ts;
    }
    this.u32[word] = value;
    return old;
  }

  /** Store `i` of CPU c's buffer reaches memory. */
  private flushEntry(c: number, i: number, site: number): void {
    const b = this.bufs[c];
    const word = b.word[i];
    const value = b.val[i];
    b.removeAt(i);
    this.buffered--;
    this.dirty[c] = 1;
    if (this.writeNow(c, word, value) !== value) schedBus.written.push(word);
    schedBus.trace?.('flush', site, word, value);
  }

  /** The view a load of `kind` starts from: vrn, and for loadDep32 the CPU's previous load. */
  private preView(c: number, kind: number): number {
    return kind === LOAD.DEP ? Math.max(this.vrn[c], this.lastPost[c]) : this.vrn[c];
  }

  /** Oldest readable message (index into the slot's history) for a load of `kind` by c. */
  private readBase(c: number, s: number, kind: number): number {
    const L = Math.max(this.coh[s * this.n + c], this.preView(c, kind));
    const base = s * HISTORY;
    let b = this.histLen[s] - 1;
    // A base message pushed out of the history leaves every retained one readable.
    while (b > 0 && this.histTs[base + b] > L) b--;
    return b;
  }

  /** A load's view updates (memory-models.md §3.1 LOAD step 2-3); s 0: no history to update. */
  private afterRead(c: number, s: number, post: number, acquire: boolean): void {
    if (s > 0) {
      const k = s * this.n + c;
      if (this.coh[k] < post) this.coh[k] = post;
    }
    if (this.vro[c] < post) this.vro[c] = post;
    if (acquire && this.vrn[c] < post) this.vrn[c] = post;
    this.lastPost[c] = post;
  }

  /** A load of the newest value (own buffer first), as failed RMWs and waits make: the value. */
  private readNewest(c: number, word: number, acquire: boolean): number {
    const b = this.bufs[c];
    const f = b.newest(word);
    if (f >= 0) {
      if (this.views) this.afterRead(c, -1, this.vrn[c], acquire);
      return b.val[f];
    }
    if (!this.views) return this.u32[word];
    const s = this.slotOf[word];
    let ts = 0;
    if (s !== 0) {
      this.sync(s, word);
      ts = this.newestTs(s);
    }
    this.afterRead(c, s, Math.max(this.vrn[c], ts), acquire);
    return this.u32[word];
  }

  private newestTs(s: number): number {
    return this.histTs[s * HISTORY + this.histLen[s] - 1];
  }

  /** Take in a plain write (two-way code's `m.u32[w] = v`) as the newest message. */
  private sync(s: number, word: number): void {
    if (this.histVal[s * HISTORY + this.histLen[s] - 1] !== this.u32[word]) this.pushMsg(s, ++this.T, this.u32[word]);
  }

  /** The slot of `word`, made on its first write with message 0 = its value now. */
  private slotFor(word: number): number {
    let s = this.slotOf[word];
    if (s !== 0) return s;
    s = ++this.slots;
    if (s === this.histLen.length) this.growSlots();
    this.slotOf[word] = s;
    this.slotWord[s] = word;
    this.histLen[s] = 1;
    this.histTs[s * HISTORY] = 0;
    this.histVal[s * HISTORY] = this.u32[word];
    this.coh.fill(0, s * this.n, (s + 1) * this.n);
    return s;
  }

  private growSlots(): void {
    const cap = this.histLen.length * 2;
    this.slotWord = grown(this.slotWord, cap);
    this.histLen = grown(this.histLen, cap);
    this.histTs = grown(this.histTs, cap * HISTORY);
    this.histVal = grown(this.histVal, cap * HISTORY);
    this.coh = grown(this.coh, cap * this.n);
  }

  private pushMsg(s: number, ts: number, value: number): void {
    const base = s * HISTORY;
    let len = this.histLen[s];
    if (len === HISTORY) {
      this.histTs.copyWithin(base, base + 1, base + HISTORY);
      this.histVal.copyWithin(base, base + 1, base + HISTORY);
      len--;
    }
    this.histTs[base + len] = ts;
    this.histVal[base + len] = value;
    this.histLen[s] = len + 1;
  }

  /**
   * CPU c's flushable stores (memory-models.md §3.1 FLUSH): in the oldest epoch (no smp_wmb
   * before them still pending), no older store to the same word, a release store only
   * when it is the oldest.
   */
  private findFlushable(c: number): void {
    const b = this.bufs[c];
    if (this.flushable[c].length < b.len) this.flushable[c] = new Int32Array(b.word.length);
    const out = this.flushable[c];
    let k = 0;
    const e0 = b.epoch[0];
    for (let i = 0; i < b.len && b.epoch[i] === e0; i++) {
      if (i > 0 && b.flags[i] & REL) continue;
      let older = false;
      for (let j = 0; j < i && !older; j++) older = b.word[j] === b.word[i];
      if (!older) out[k++] = i;
    }
    this.flushableCount[c] = k;
    this.dirty[c] = 0;
  }
}

/** A primitive the mode does not have: one line naming it (the CLI exits 2). */
function refuse(name: string, mode: WeakMode): never {
  const instead =
    mode === 'js'
      ? 'JavaScript has plain accesses and Atomics only: use load32/store32, atomicLoad32/atomicStore32 or the fully ordered read-modify-writes'
      : 'use a primitive of this mode';
  throw new ModelError(`${name} does not exist under memory model ${mode} (${instead})`);
}

const byMachine = new WeakMap<Machine, WeakMemory>();

/** The weak memory of machine `m` for a run in `mode` (made once per machine, then reset). */
export function weakMemoryFor(m: Machine, mode: WeakMode): WeakMemory {
  let wm = byMachine.get(m);
  if (!wm) byMachine.set(m, (wm = new WeakMemory(m)));
  return wm.reset(mode);
}
