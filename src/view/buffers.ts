// The weaker memory modes in the step view (docs/memory-models.md, "How to read a weak
// trace"): each CPU's store buffer after the step, oldest store first, with its smp_wmb
// boundaries; the store a flush step sent to memory; and on the step's accesses what
// replay --trace says of them (buffered, from the own buffer, stale) and what only the
// buffers show: a load that read past another CPU's store still waiting in its buffer.
// Numbers the tests compare with the simulator are data-* attributes.
import type { MemoryModel } from '../sched/memory_model.js';
import type { Access } from '../sched/scheduler.js';
import type { BufferedStore } from '../sched/weak.js';
import type { TraceRow } from './protocol.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** A store another CPU holds in its buffer that a load read past (the load did not see it). */
export interface PastStore {
  cpu: number;
  value: number;
}

/**
 * The stores a load of step `row` read past: per other CPU, its newest buffered store to
 * the word, when it differs from the value read. A step changes no other CPU's buffer, so
 * the buffers after it are the ones the load saw.
 */
export function pastStores(row: TraceRow, a: Access): PastStore[] {
  if (a.kind !== 'load' || a.forwarded || !row.buffers) return [];
  const out: PastStore[] = [];
  row.buffers.forEach((b, cpu) => {
    if (cpu === row.cpu) return;
    for (let i = b.length - 1; i >= 0; i--)
      if (b[i].word === a.word) {
        if (b[i].value !== a.value) out.push({ cpu, value: b[i].value });
        return;
      }
  });
  return out;
}

/** What the step view adds to an access's line in a weaker mode, and its data-* attributes. */
export function accessNote(row: TraceRow, a: Access): { html: string; attrs: string; cls: string } {
  const notes: string[] = [];
  let attrs = a.order ? ` data-order="${esc(a.order)}"` : '';
  let cls = '';
  if (a.buffered) {
    notes.push('<span class="note">buffered</span>');
    attrs += ' data-buffered="1"';
  }
  if (a.forwarded) {
    notes.push('<span class="note">from its own buffer</span>');
    attrs += ' data-forwarded="1"';
  }
  if (a.stale !== undefined) {
    notes.push(`<span class="note stale">stale: memory holds ${hex(a.stale)}</span>`);
    attrs += ` data-stale="${a.stale}"`;
    cls += ' stale';
  }
  const past = pastStores(row, a);
  if (past.length) {
    notes.push(...past.map((p) => `<span class="note past">read past CPU${p.cpu}'s buffered ${hex(p.value)}</span>`));
    attrs += ` data-past="${past.map((p) => `${p.cpu}:${p.value}`).join(' ')}"`;
    cls += ' past';
  }
  return { html: notes.join(' '), attrs, cls };
}

/** One CPU's buffer, oldest first, with its smp_wmb boundaries; first the stores this step sent to memory. */
function bufferBox(
  cpu: number,
  b: readonly BufferedStore[],
  label: (w: number) => string,
  flushed: readonly Access[],
  readPast: ReadonlySet<number>,
): string {
  let items = flushed
    .map(
      (f) =>
        `<li class="sb-flushed" data-word="${f.word}" data-value="${f.value}" title="reached memory in this step">&rarr; memory: [${f.word}] ${esc(label(f.word))} = ${hex(f.value)}</li>`,
    )
    .join('');
  const passed = new Set([...readPast].map((w) => b.map((e) => e.word).lastIndexOf(w)));
  b.forEach((e, i) => {
    if (i > 0 && e.epoch !== b[i - 1].epoch)
      items += '<li class="wmb" title="smp_wmb: no store below reaches memory before every store above">wmb</li>';
    const flags = `${e.release ? ' <b>release</b>' : ''}${e.unlock ? ' <b>unlock</b>' : ''}`;
    const cls = passed.has(i) ? 'sb-entry passed" title="a load of this step read past it' : 'sb-entry';
    items += `<li class="${cls}" data-word="${e.word}" data-value="${e.value}" data-epoch="${e.epoch}"${e.release ? ' data-release="1"' : ''}>[${e.word}] ${esc(label(e.word))} = ${hex(e.value)}${flags}</li>`;
  });
  const empty = b.length === 0 && !flushed.length ? '<li class="more">empty</li>' : '';
  return `<div class="sb${flushed.length ? ' flushed' : ''}" data-cpu="${cpu}" data-len="${b.length}"><h4>CPU${cpu} store buffer</h4><ol>${items}${empty}</ol></div>`;
}

/**
 * Every CPU's store buffer as of step k (`row`: that step, undefined before the first),
 * or what the mode has instead of buffers. The stores that reached memory in the step (a
 * flush step's one; those a fence or a read-modify-write drained) are drawn leaving.
 */
export function buffersHtml(mode: MemoryModel, cpus: number, row: TraceRow | undefined, label: (w: number) => string): string {
  if (mode === 'sc')
    return '<p class="more">Memory model sc: every store reaches memory when its CPU moves; there are no store buffers.</p>';
  const bufs = row?.buffers ?? Array.from({ length: cpus }, (): BufferedStore[] => []);
  const flushed = row?.accesses.filter((a) => a.kind === 'flush') ?? [];
  // per CPU the words whose buffered store a load of this step read past
  const readPast = bufs.map(() => new Set<number>());
  for (const a of row?.accesses ?? []) for (const p of row ? pastStores(row, a) : []) readPast[p.cpu].add(a.word);
  return bufs.map((b, cpu) => bufferBox(cpu, b, label, row?.cpu === cpu ? flushed : [], readPast[cpu])).join('');
}

/** The newest store each CPU holds for `word` after step `row`, as `CPU0 0x1` (for the words table). */
export function bufferedValues(row: TraceRow | undefined, word: number): string {
  if (!row?.buffers) return '';
  return row.buffers
    .flatMap((b, cpu) => {
      for (let i = b.length - 1; i >= 0; i--) if (b[i].word === word) return [`CPU${cpu} ${hex(b[i].value)}`];
      return [];
    })
    .join(', ');
}
