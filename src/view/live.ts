// Live mode: an object workload free-running on N Web Workers (one CPU each) that share
// the machine's SharedArrayBuffer, as worker threads do in `slabsim run`. The page sets
// the run up (prepareRun), starts each CPU through comlink, pauses and resumes them and
// changes their interrupt rate through words of the machine, samples the buffer for the
// charts (no message from any CPU until it ends) and, at the end, runs the checks of
// every run: the ownership ledger and validate.
import { wrap } from 'comlink';
import type uPlot from 'uplot';
import { liveCacheIds, slabPageCount } from '../mm/slub/cache.js';
import { cacheById } from '../mm/slub/kmem_cache.js';
import type { Profile } from '../config.js';
import { statsOf } from '../report/caches.js';
import { cpuOpsDone, type Machine, requestStop, setControlledIrqRate, setPaused } from '../shm/machine.js';
import type { CpuResult } from '../workload/task.js';
import { finishRun, prepareRun, type RunOptions } from '../workload/run.js';
import { type ChartData, cpuColor, full, timeChart } from './charts.js';
import { machineView } from './state.js';
import { drawPicture } from './picture.js';
import type { CpuApi } from './protocol.js';

const SAMPLE_MS = 250;
/** Samples kept in the charts: the last minute. */
const KEEP = 240;
/** Slabs drawn per list in the live picture. */
const LIVE_SLABS = 6;

export interface LiveSettings {
  workload: 'threadtest' | 'xmalloc' | 'larson';
  cpus: number;
  profile: Profile;
  irqRate: number;
}

interface Sample {
  t: number;
  ops: number[];
  fast: number[];
  slow: number[];
}

export class LiveRun {
  readonly m: Machine;
  private readonly workers: Worker[];
  private readonly results: Promise<CpuResult[]>;
  private readonly t0 = performance.now();
  private readonly opts: RunOptions;
  private readonly prep: ReturnType<typeof prepareRun>;
  private readonly charts: uPlot[] = [];
  private readonly data: ChartData[];
  private last: Sample | null = null;
  private timer: ReturnType<typeof setInterval>;
  private pictureAt = 0;
  paused = false;
  ended = false;

  constructor(
    settings: LiveSettings,
    private readonly el: { counters: HTMLElement; picture: HTMLElement; charts: HTMLElement[] },
  ) {
    // A timed run: the stop word ends it; ops is only a cap no one reaches.
    this.opts = {
      workload: settings.workload,
      machine: { cpus: settings.cpus, profile: settings.profile, memory: 16 << 20 },
      ops: 2 ** 31,
      seed: 1,
      irqRate: settings.irqRate,
      durationMs: 1,
    };
    this.prep = prepareRun(this.opts);
    this.m = this.prep.m;
    this.workers = Array.from({ length: settings.cpus }, () => new Worker('/cpu.js', { type: 'module', name: 'slabsim-cpu' }));
    this.results = Promise.all(this.workers.map((w) => wrap<CpuApi>(w).run(this.prep.task)));
    const n = settings.cpus;
    const perCpu = (label: string) =>
      Array.from({ length: n }, (_, cpu) => ({ label: `CPU ${cpu}${label}`, color: cpuColor(cpu) }));
    const specs = [
      { series: perCpu(''), yLabel: 'ops/s', unit: ' ops/s', stepped: true },
      { series: perCpu(''), yLabel: 'fast path', percent: true, stepped: true },
      { series: [{ label: 'slab pages', color: '#2f67b1' }], yLabel: 'pages', unit: ' pages' },
      {
        series: [
          { label: 'node partial (nr_partial)', color: '#2f67b1' },
          { label: 'cpu partial (slabs)', color: '#e07b00', dash: [6, 4] },
        ],
        yLabel: 'slabs',
        unit: ' slabs',
      },
    ];
    this.data = specs.map((s) => [[], ...s.series.map(() => [])] as ChartData);
    specs.forEach((spec, i) => {
      el.charts[i].textContent = '';
      this.charts.push(timeChart(el.charts[i], spec, this.data[i]));
    });
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  /** Racy reads of the buffer, as /proc readers do: no message to any CPU. */
  private sample(): void {
    const m = this.m;
    const t = performance.now() - this.t0;
    const cpus = m.cfg.cpus;
    const s: Sample = { t, ops: [], fast: new Array(cpus).fill(0), slow: new Array(cpus).fill(0) };
    for (let cpu = 0; cpu < cpus; cpu++) s.ops.push(cpuOpsDone(m, cpu));
    let nodePartial = 0;
    let cpuPartial = 0;
    const view = machineView(m);
    for (const id of liveCacheIds(m)) {
      const st = statsOf(cacheById(m, id));
      for (let cpu = 0; cpu < cpus; cpu++) {
        s.fast[cpu] += st.alloc_fastpath.per_cpu[cpu] + st.free_fastpath.per_cpu[cpu];
        s.slow[cpu] += st.alloc_slowpath.per_cpu[cpu] + st.free_slowpath.per_cpu[cpu];
      }
    }
    for (const c of view.caches) {
      for (const n of c.nodes) nodePartial += n.nrPartial;
      for (const cpu of c.cpus) cpuPartial += cpu.partial.length;
    }
    const prev = this.last;
    this.last = s;
    this.counters(s);
    if (performance.now() - this.pictureAt > 1000) {
      this.pictureAt = performance.now();
      drawPicture(this.el.picture, m, view, [], LIVE_SLABS);
    }
    if (!prev) return;
    const dt = (s.t - prev.t) / 1000;
    const push = (i: number, ys: Array<number | null>): void => {
      const d = this.data[i];
      d[0].push(Math.round(s.t));
      ys.forEach((y, k) => (d[k + 1] as Array<number | null>).push(y));
      if (d[0].length > KEEP) for (const col of d) col.shift();
      this.charts[i].setData(d as uPlot.AlignedData);
    };
    push(
      0,
      s.ops.map((o, cpu) => Math.max(0, (o - prev.ops[cpu]) / dt)),
    );
    push(
      1,
      s.fast.map((f, cpu) => {
        const df = f - prev.fast[cpu];
        const ds = s.slow[cpu] - prev.slow[cpu];
        return df + ds > 0 ? df / (df + ds) : null;
      }),
    );
    push(2, [slabPageCount(m)]);
    push(3, [nodePartial, cpuPartial]);
  }

  private counters(s: Sample): void {
    const total = s.ops.reduce((a, b) => a + b, 0);
    this.el.counters.dataset.total = String(total);
    this.el.counters.innerHTML =
      s.ops
        .map((o, cpu) => `<span class="ops" data-cpu="${cpu}" data-ops="${o}">CPU ${cpu}: ${full(o)} ops</span>`)
        .join(' &middot; ') + ` &middot; <b>${full(total)}</b> operations${this.paused ? ' (paused)' : ''}`;
  }

  pause(): void {
    setPaused(this.m, true);
    this.paused = true;
  }

  resume(): void {
    setPaused(this.m, false);
    this.paused = false;
  }

  setIrqRate(rate: number): void {
    setControlledIrqRate(this.m, rate);
  }

  /** Stop every CPU (each frees what it holds), then check what is left: the run's report. */
  async stop(): Promise<ReturnType<typeof finishRun>> {
    setPaused(this.m, false);
    requestStop(this.m);
    const results = await this.results;
    clearInterval(this.timer);
    this.sample();
    for (const w of this.workers) w.terminate();
    this.ended = true;
    return finishRun(this.prep, this.opts, results, performance.now() - this.t0);
  }
}
