// The viewer's page: step mode drives the explorer worker through comlink and draws the
// machine from the display buffer each animation frame (in a weaker memory mode also each
// CPU's store buffer, buffers.ts); live mode (live.ts) runs a workload on CPU workers.
// The address bar keeps the schedule and the step (`#schedule=...&step=k`), so a schedule
// from a failing CI run is a link; `#memory-model=m` picks the mode of runs made here.
import { type Remote, wrap } from 'comlink';
import { attach, type Machine, wordPlace } from '../shm/machine.js';
import type { Profile } from '../config.js';
import { isMemoryModel, type MemoryModel } from '../sched/memory_model.js';
import { accessNote, bufferedValues, buffersHtml } from './buffers.js';
import { LiveRun, type LiveSettings } from './live.js';
import { drawPicture } from './picture.js';
import { CTL, type Loaded, type ModelInfo, type RunRequest, type StepApi } from './protocol.js';
import { machineView } from './state.js';

const t0 = performance.now();
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`no element #${id}`);
  return e as T;
};
const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

function status(text: string, error = false): void {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

/** Run a UI action; its error goes to the status line (one line), never to the console. */
async function act(what: string, f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    status(`${what}: ${(e as Error).message ?? String(e)}`, true);
  }
}

// ---- step mode ----

const api: Remote<StepApi> = wrap<StepApi>(new Worker('/step.js', { type: 'module', name: 'slabsim-step' }));
let models: ModelInfo[] = [];
let run: { loaded: Loaded; m: Machine; ctl: Int32Array; words: number[] } | null = null;
let drawnSeq = -1;

const stepShown = (): number => (run ? Atomics.load(run.ctl, CTL.STEP) : -1);

function fillModel(name: string): void {
  const info = models.find((m) => m.name === name);
  if (!info) return;
  const opt = (v: string, label = v): string => `<option value="${esc(v)}">${esc(label)}</option>`;
  $('profile').innerHTML = info.profiles.length ? info.profiles.map((p) => opt(p)).join('') : opt('', '- (no kernel)');
  $('mutant').innerHTML = opt('', 'none') + info.mutants.map((x) => opt(x)).join('');
  $('doc').textContent = info.doc;
  if (info.memoryModel) $<HTMLSelectElement>('memory-model').value = info.memoryModel;
}

/** A mutant is explored in the mode that finds it, as `slabsim race --mutant` does. */
function mutantChosen(): void {
  const info = models.find((m) => m.name === $<HTMLSelectElement>('model').value);
  const i = info?.mutants.indexOf($<HTMLSelectElement>('mutant').value) ?? -1;
  const mode = info && i >= 0 ? info.mutantModes[i] : null;
  if (mode) $<HTMLSelectElement>('memory-model').value = mode;
}

function request(): RunRequest {
  return {
    model: $<HTMLSelectElement>('model').value,
    profile: $<HTMLSelectElement>('profile').value || null,
    mutant: $<HTMLSelectElement>('mutant').value || null,
    seed: Number($<HTMLInputElement>('seed').value) >>> 0,
    memoryModel: $<HTMLSelectElement>('memory-model').value as MemoryModel,
  };
}

function show(loaded: Loaded, step = -1): Promise<void> {
  // every word a step accessed (a fence's is -1: none)
  const words = [...new Set(loaded.trace.flatMap((t) => t.accesses.map((a) => a.word)))]
    .filter((w) => w >= 0)
    .sort((a, b) => a - b);
  run = { loaded, m: attach(loaded.display), ctl: new Int32Array(loaded.ctl), words };
  drawnSeq = -1;
  $<HTMLInputElement>('schedule').value = loaded.schedule;
  $<HTMLSelectElement>('model').value = loaded.model;
  fillModel(loaded.model);
  $<HTMLSelectElement>('profile').value = loaded.profile ?? '';
  $<HTMLSelectElement>('mutant').value = loaded.mutant ?? '';
  $<HTMLInputElement>('seed').value = String(loaded.seed);
  $<HTMLSelectElement>('memory-model').value = loaded.memoryModel;
  $('buffers-section').hidden = loaded.memoryModel === 'sc';
  const slider = $<HTMLInputElement>('slider');
  slider.max = String(loaded.trace.length - 1);
  const out = $('outcome');
  out.className = loaded.failed ? 'failed' : '';
  out.innerHTML = loaded.failed
    ? `<b>FAILED</b> at step ${loaded.trace.length - 1}: ${loaded.messages.map(esc).join('; ')}`
    : `ok: ${loaded.trace.length} steps, every check held`;
  $<HTMLButtonElement>('to-failure').disabled = !loaded.failed;
  return step >= 0 ? seek(step) : Promise.resolve();
}

async function seek(k: number): Promise<void> {
  if (!run) return;
  await api.seek(Math.max(-1, Math.min(run.loaded.trace.length - 1, k)));
}

/** Draw the step the worker published, when it is whole (SEQ even and unchanged around the reads). */
function frame(): void {
  requestAnimationFrame(frame);
  if (!run || Atomics.load(run.ctl, CTL.LOAD) !== run.loaded.generation) return;
  const seq = Atomics.load(run.ctl, CTL.SEQ);
  // Written only when it changes: a write every frame, even of the same text, made the
  // browser lay out and paint the page 60 times a second while nothing moved.
  const play = $('play');
  const label = Atomics.load(run.ctl, CTL.PLAYING) ? 'pause' : 'play';
  if (play.textContent !== label) play.textContent = label;
  if (seq === drawnSeq || seq & 1) return;
  const k = Atomics.load(run.ctl, CTL.STEP);
  drawStep(k);
  drawnSeq = Atomics.load(run.ctl, CTL.SEQ) === seq ? seq : -1;
}

function drawStep(k: number): void {
  if (!run) return;
  const { loaded, m, words } = run;
  const row = k >= 0 ? loaded.trace[k] : undefined;
  const touched = row?.accesses.map((a) => a.word).filter((w) => w >= 0) ?? [];
  const label = (w: number): string => (w < 0 ? '' : wordPlace(m, w).label);
  $('step-cpu').textContent = row ? `CPU${row.cpu}` : '-';
  $('step-site').textContent = !row
    ? '-'
    : row.flush
      ? 'flush: a store of its buffer reached memory (its program did not move)'
      : `${row.site}${row.state === 'blocked' || row.state === 'spinning' ? ` (${row.state})` : ''}`;
  $('step-accesses').innerHTML = row
    ? row.accesses
        .map((a) => {
          const result = a.ok === undefined ? '' : a.ok ? 'ok' : 'failed';
          const what =
            a.kind === 'fence' ? `fence ${a.order}` : `${a.kind}${a.order ? `.${a.order}` : ''} [${a.word}] ${hex(a.value)}`;
          const note = accessNote(row, a);
          return `<li class="${result}${note.cls}" data-kind="${a.kind}" data-word="${a.word}" data-value="${a.value}" data-ok="${result}"${note.attrs}>${what}${result ? ` <b>${result}</b>` : ''} ${note.html} <span class="more">${esc(label(a.word))}</span></li>`;
        })
        .join('') || '<li class="more">no shared access</li>'
    : '';
  $('step-line').textContent = row ? [row.line, row.buffersLine].filter(Boolean).join('\n') : 'before the first step';
  $('buffers').innerHTML = buffersHtml(loaded.memoryModel, loaded.cpus, row, label);
  // Each CPU: the site it stopped at in its latest step of its program so far (a flush is none).
  const latest = new Map<number, (typeof loaded.trace)[number]>();
  for (let i = 0; i <= k; i++) if (!loaded.trace[i].flush) latest.set(loaded.trace[i].cpu, loaded.trace[i]);
  $('threads').innerHTML = Array.from({ length: loaded.cpus }, (_, cpu) => {
    const r = latest.get(cpu);
    return `<div class="thread${row?.cpu === cpu ? ' moved' : ''}" data-cpu="${cpu}"><b>CPU${cpu}</b> <span>${esc(r?.site ?? '(not started)')}</span> <span class="st">${r && r.state !== 'running' ? r.state : ''}</span></div>`;
  }).join('');
  $('words').querySelector('tbody')!.innerHTML = words
    .map(
      (w) =>
        `<tr${touched.includes(w) ? ' class="hl"' : ''} data-word="${w}"><td>${w}</td><td>${esc(wordPlace(m, w).label)}</td><td class="v">${hex(m.u32[w])}</td><td class="b">${bufferedValues(row, w)}</td></tr>`,
    )
    .join('');
  drawPicture($('picture'), m, machineView(m), touched, 64);
  $<HTMLInputElement>('slider').value = String(k);
  $('position').textContent = `step ${k} of ${loaded.trace.length - 1}`;
  history.replaceState(null, '', `#schedule=${encodeURIComponent(loaded.schedule)}&step=${k}`);
  $('step').dataset.flush = row?.flush ? '1' : '';
  $('step').dataset.step = String(k);
}

function fromHash(): { schedule: string | null; step: number; memoryModel: MemoryModel | null } {
  const h = new URLSearchParams(location.hash.slice(1));
  const step = Number(h.get('step') ?? -1);
  const mode = h.get('memory-model');
  return {
    schedule: h.get('schedule'),
    step: Number.isInteger(step) ? step : -1,
    memoryModel: isMemoryModel(mode) ? mode : null,
  };
}

function wireStepMode(): void {
  $<HTMLSelectElement>('model').addEventListener('change', (e) => fillModel((e.target as HTMLSelectElement).value));
  $<HTMLSelectElement>('mutant').addEventListener('change', mutantChosen);
  $('generate').addEventListener('click', () => act('new run', async () => show(await api.generate(request()))));
  $('hunt').addEventListener('click', () =>
    act('find a failure', async () => {
      status('exploring up to 2000 schedules...');
      const found = await api.hunt(request(), 2000);
      if (!found) return status(`no failure in 2000 runs of ${request().model} under memory model ${request().memoryModel}`);
      await show(found);
      status(`found and shrunk: ${found.schedule}`);
    }),
  );
  $('load').addEventListener('click', () =>
    act('load', async () => show(await api.load($<HTMLInputElement>('schedule').value.trim()))),
  );
  $('first').addEventListener('click', () => act('step', () => seek(-1)));
  $('back').addEventListener('click', () => act('step', () => seek(stepShown() - 1)));
  $('forward').addEventListener('click', () => act('step', () => seek(stepShown() + 1)));
  $('to-failure').addEventListener('click', () => act('step', () => seek(run ? run.loaded.trace.length - 1 : -1)));
  $('slider').addEventListener('input', (e) => act('step', () => seek(Number((e.target as HTMLInputElement).value))));
  const speed = $<HTMLInputElement>('speed');
  speed.addEventListener('input', () => {
    $('speed-value').textContent = speed.value;
  });
  $('play').addEventListener('click', () =>
    act('play', async () => {
      if (run && Atomics.load(run.ctl, CTL.PLAYING)) await api.pause();
      else await api.play(Number(speed.value));
    }),
  );
  document.addEventListener('keydown', (e) => {
    if ((e.target as HTMLElement).closest('input, select, textarea') || $('step-mode').hidden) return;
    const keys: Record<string, () => void> = {
      ArrowRight: () => $('forward').click(),
      ArrowLeft: () => $('back').click(),
      Home: () => $('first').click(),
      End: () => $('to-failure').click(),
      ' ': () => $('play').click(),
    };
    if (keys[e.key]) {
      e.preventDefault();
      keys[e.key]();
    }
  });
  window.addEventListener('hashchange', () => {
    const h = fromHash();
    if (!run || !h.schedule) return;
    if (h.schedule !== run.loaded.schedule) void act('load', async () => show(await api.load(h.schedule as string), h.step));
    else if (h.step !== stepShown()) void act('step', () => seek(h.step));
  });
}

// ---- live mode ----

let live: LiveRun | null = null;

function wireLiveMode(): void {
  const buttons = (running: boolean, paused: boolean): void => {
    $<HTMLButtonElement>('live-start').disabled = running;
    $<HTMLButtonElement>('live-pause').disabled = !running || paused;
    $<HTMLButtonElement>('live-resume').disabled = !running || !paused;
    $<HTMLButtonElement>('live-stop').disabled = !running;
  };
  const irq = $<HTMLInputElement>('irq');
  $('live-start').addEventListener('click', () =>
    act('live', async () => {
      const settings: LiveSettings = {
        workload: $<HTMLSelectElement>('workload').value as LiveSettings['workload'],
        cpus: Math.max(1, Math.min(16, Number($<HTMLInputElement>('cpus').value) | 0)),
        profile: $<HTMLSelectElement>('live-profile').value as Profile,
        irqRate: Math.max(0, Math.min(1, Number(irq.value) || 0)),
      };
      $('live-checks').textContent = '';
      live = new LiveRun(settings, {
        counters: $('live-counters'),
        picture: $('live-picture'),
        charts: ['chart-ops', 'chart-fast', 'chart-slabs', 'chart-partial'].map((id) => $(id)),
      });
      buttons(true, false);
      status(`live: ${settings.workload} on ${settings.cpus} CPUs`);
    }),
  );
  $('live-pause').addEventListener('click', () => {
    live?.pause();
    buttons(true, true);
  });
  $('live-resume').addEventListener('click', () => {
    live?.resume();
    buttons(true, false);
  });
  irq.addEventListener('change', () => live?.setIrqRate(Math.max(0, Math.min(1, Number(irq.value) || 0))));
  $('live-stop').addEventListener('click', () =>
    act('live', async () => {
      if (!live) return;
      const report = await live.stop();
      live = null;
      buttons(false, false);
      const c = report.checks;
      const el = $('live-checks');
      el.className = c.ok ? 'ok' : 'bad';
      el.dataset.ok = String(c.ok);
      const irqs = report.per_cpu.reduce((n, cpu) => n + cpu.irq_allocs, 0);
      el.dataset.irqAllocs = String(irqs);
      el.textContent = c.ok
        ? `stopped after ${report.ops.toLocaleString('en-US')} operations and ${irqs.toLocaleString('en-US')} interrupt allocations: ledger and validate ok (${c.live} objects live, none lost)`
        : `checks FAILED: ${c.messages.join('; ')}`;
    }),
  );
}

function wireTabs(): void {
  const tab = (name: 'step' | 'live'): void => {
    $('step-mode').hidden = name !== 'step';
    $('live-mode').hidden = name !== 'live';
    $('tab-step').classList.toggle('on', name === 'step');
    $('tab-live').classList.toggle('on', name === 'live');
  };
  $('tab-step').addEventListener('click', () => tab('step'));
  $('tab-live').addEventListener('click', () => tab('live'));
}

async function start(): Promise<void> {
  if (!crossOriginIsolated) status('this page is not cross-origin isolated: SharedArrayBuffer is missing', true);
  wireTabs();
  wireStepMode();
  wireLiveMode();
  models = await api.models();
  $('model').innerHTML = models
    .map((m) => `<option value="${esc(m.name)}">${esc(m.name)}${m.user ? ' (your model)' : ''}</option>`)
    .join('');
  fillModel(models[0].name);
  requestAnimationFrame(frame);
  const h = fromHash();
  if (h.memoryModel) $<HTMLSelectElement>('memory-model').value = h.memoryModel;
  await act('load', async () => show(h.schedule ? await api.load(h.schedule) : await api.generate(request()), h.step));
  const ms = Math.round(performance.now() - t0);
  document.body.dataset.ready = String(ms);
  if (!$('status').classList.contains('error')) status(`ready in ${ms} ms`);
}

void start();
