// The HTML report (`slabsim run --report FILE.html`): the series it computes from a
// synthetic report, and a real run's report opened in headless Chromium (from npm, see
// test/browser.ts; driven by playwright-core) with its charts drawn (uPlot, inlined) and
// no console error.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { CacheReport, StatValue } from '../src/report/caches.js';
import { htmlData, htmlReport } from '../src/report/html.js';
import { PROFILE_STAT_ITEMS, type StatItem } from '../src/shm/structs.js';
import { DEFAULT_CONFIG } from '../src/config.js';
import { RUN_SCHEMA, type RunReport, runWorkload } from '../src/workload/run.js';
import { inked, launchBrowser, recordPageErrors } from './browser.js';
import { cli, keptPools } from './helpers.js';
import { tempDir } from './temp.js';

const pools = keptPools();

const SCREENSHOT = '/tmp/slabsim-report.png';

/** A cache whose stats are all zero but the per-CPU values given. */
function cacheStub(name: string, cpus: number, stats: Partial<Record<StatItem, number[]>>): CacheReport {
  const all = Object.fromEntries(
    PROFILE_STAT_ITEMS[DEFAULT_CONFIG.profile].map((k): [StatItem, StatValue] => {
      const per = stats[k] ?? new Array<number>(cpus).fill(0);
      return [k, { total: per.reduce((a, b) => a + b, 0), per_cpu: per }];
    }),
  ) as CacheReport['stats'];
  return {
    name,
    sysfs_name: name,
    aliases: [],
    flags: 0,
    flag_names: [],
    object_size: 64,
    slab_size: 64,
    align: 8,
    order: 0,
    objs_per_slab: 64,
    min_partial: 5,
    cpu_partial: 30,
    sheaf_capacity: 0,
    remote_node_defrag_ratio: 1000,
    slabs: 3,
    partial: 1,
    cpu_slabs: 2,
    objects: 100,
    total_objects: 192,
    objects_partial: 10,
    per_node: [],
    per_cpu: [],
    stats: all,
  };
}

/** A hand-made report of 2 CPUs: one cache with three slabs, and a timeline. */
function syntheticReport(): RunReport {
  const cpus = 2;
  return {
    schema: RUN_SCHEMA,
    workload: 'threadtest',
    config: { ...DEFAULT_CONFIG, cpus, nodes: 1 },
    seed: 1,
    irq_rate: 0,
    ops: 6000,
    elapsed_ms: 300,
    ops_per_sec: 20000,
    wall_ms: 320,
    per_cpu: [0, 1].map((cpu) => ({
      cpu,
      node: 0,
      ops: 3000,
      allocs: 1500,
      frees: 1500,
      failed: 0,
      irq_allocs: 0,
      irq_frees: 0,
      elapsed_ms: 300,
      // (fields the report does not show are left out, so that new ones need no change here)
    })) as RunReport['per_cpu'],
    pages: { total: 1024, free: 1000, slab: 3, buddyinfo: [{ node: 0, nr_free: [0] }] },
    caches: [
      cacheStub('</script><b>odd</b>', cpus, {
        alloc_fastpath: [900, 1500],
        alloc_slowpath: [100, 0],
        free_fastpath: [0, 750],
        free_slowpath: [1000, 750],
      }),
      cacheStub('idle-cache', cpus, {}),
    ],
    timeline: [
      { t_ms: 100, ops: [1000, 500], pages_used: 10, slab_pages: 2 },
      { t_ms: 200, ops: [2000, 2000], pages_used: 14, slab_pages: 3 },
      { t_ms: 300, ops: [3000, 2900], pages_used: 12, slab_pages: 3 },
      // taken as the CPUs end, 5 ms after the one before: it joins the interval before
      { t_ms: 305, ops: [3000, 3000], pages_used: 12, slab_pages: 3 },
    ],
    slab_map: [
      {
        cache: '</script><b>odd</b>',
        slabs: [
          { pfn: 7, node: 0, place: 'cpu', cpu: 0, objects: 64, inuse: 64, free: 20 },
          { pfn: 9, node: 0, place: 'cpu_partial', cpu: 1, objects: 64, inuse: 10, free: 54 },
          { pfn: 12, node: 0, place: 'none', objects: 64, inuse: 64, free: 0 },
        ],
      },
    ],
    checks: { ok: true, double_issue: 0, bad_free: 0, lost: 0, live: 0, validate_errors: 0, messages: [] },
  };
}

describe('htmlReport on a synthetic report', () => {
  it('computes throughput per CPU and interval from the cumulative ops, joining a too-short last interval', () => {
    const d = htmlData(syntheticReport());
    expect(d.throughput).toEqual({
      x0: [0, 100, 200],
      x1: [100, 200, 305],
      cpus: [
        [10000, 10000, Math.round(1000 / 0.105)],
        [5000, 15000, Math.round(1000 / 0.105)],
      ],
    });
    expect(d.pages).toEqual({ t: [100, 200, 300, 305], used: [10, 14, 12, 12], slab: [2, 3, 3, 3], total: 1024 });
  });

  it('sums the fast and slow paths of all caches per CPU', () => {
    expect(htmlData(syntheticReport()).fastpath).toEqual([
      { cpu: 0, allocFast: 900, allocSlow: 100, freeFast: 0, freeSlow: 1000 },
      { cpu: 1, allocFast: 1500, allocSlow: 0, freeFast: 750, freeSlow: 750 },
    ]);
  });

  it('puts each slab in its row: CPU (cpu slab first), node partial, full on no list', () => {
    const slabs = htmlData(syntheticReport()).slabs;
    if ('note' in slabs) throw new Error(slabs.note);
    expect(slabs[0].rows.map((r) => [r.label, r.slabs.map((s) => s[0])])).toEqual([
      ['CPU 0: cpu slab and cpu partial list', [7]],
      ['CPU 1: cpu slab and cpu partial list', [9]],
      ['node 0 partial list', []],
      ['full slabs, on no list', [12]],
    ]);
    // used = objects - free; the inuse counter is kept for the tooltip
    expect(slabs[0].rows[0].slabs[0]).toEqual([7, 0, 64, 44, 64, 1]);
  });

  it('gives notes instead of charts for a missing or short timeline and a missing slab map', () => {
    const r = syntheticReport();
    delete r.timeline;
    delete r.slab_map;
    const d = htmlData(r);
    expect(d.throughput).toHaveProperty('note', expect.stringContaining('no timeline'));
    expect(d.pages).toHaveProperty('note', expect.stringContaining('no timeline'));
    expect(d.slabs).toHaveProperty('note', expect.stringContaining('no slab map'));
    r.timeline = [{ t_ms: 100, ops: [1, 1], pages_used: 1, slab_pages: 0 }];
    expect(htmlData(r).throughput).toHaveProperty('note', expect.stringContaining('too short'));
    r.caches = [];
    expect(htmlData(r).fastpath).toHaveProperty('note', expect.stringContaining('No slab cache'));
  });

  it('is one self-contained document with names escaped', () => {
    const html = htmlReport(syntheticReport());
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toContain('<b>odd</b>');
    // the counters table: 26 stat rows for the active cache; the idle cache only named
    expect(html.match(/<tr><td>alloc_fastpath<\/td>/g)).toHaveLength(1);
    expect(html).toContain('All 26 counters are zero in: idle-cache');
  });
});

interface Opened {
  page: Page;
  errors: string[];
  requests: string[];
}

/** Open `html` from a file; collect console errors, page errors and every request made. */
async function open(browser: Browser, html: string, name: string): Promise<Opened> {
  const file = join(tempDir('slabsim-html-'), name);
  writeFileSync(file, html);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  recordPageErrors(page, errors);
  page.on('request', (r) => requests.push(r.url()));
  const url = pathToFileURL(file).href;
  await page.goto(url, { waitUntil: 'load' });
  return { page, errors, requests: requests.filter((u) => u !== url) };
}

/** Boxes of the elements matching `selector`: [width, height] each. */
const boxes = (page: Page, selector: string): Promise<Array<[number, number]>> =>
  page.$$eval(selector, (els) =>
    els.map((e) => {
      const b = e.getBoundingClientRect();
      return [b.width, b.height] as [number, number];
    }),
  );

describe('the HTML report of a real run in headless Chromium', () => {
  let browser: Browser;
  let report: RunReport;
  let opened: Opened;
  // A failed set-up (no browser) fails every test below with its message; none is skipped.
  let setupError: unknown;
  beforeAll(async () => {
    try {
      browser = await launchBrowser(inject('browser'));
      report = await runWorkload({ workload: 'xmalloc', machine: { cpus: 2 }, ops: 200_000, seed: 3, pool: await pools(2) });
      opened = await open(browser, htmlReport(report), 'run.html');
    } catch (e) {
      setupError = e;
    }
  });
  beforeEach(() => {
    if (setupError) throw setupError;
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('the run is clean and has a timeline and a slab map', () => {
    expect(report.checks.messages).toEqual([]);
    expect(report.timeline?.length).toBeGreaterThanOrEqual(2);
    expect(report.slab_map?.length).toBeGreaterThan(0);
  });

  it('loads with no console error and no request but its own file', () => {
    expect(opened.errors).toEqual([]);
    expect(opened.requests).toEqual([]);
  });

  it('draws throughput per CPU and pages over time with uPlot, the legend giving the values under the cursor', async () => {
    const { page } = opened;
    const data = htmlData(report);
    if ('note' in data.throughput || 'note' in data.pages) throw new Error('the run should have a timeline');
    expect(await page.$$('#throughput-chart .note')).toHaveLength(0);
    const legend = (id: string) =>
      page.$$eval(`#${id} .u-legend .u-series`, (rows) =>
        rows.map((r) => [r.querySelector('.u-label')?.textContent ?? '', r.querySelector('.u-value')?.textContent ?? '']),
      );
    expect((await legend('throughput-chart')).map((r) => r[0])).toEqual(['time', 'CPU 0', 'CPU 1']);
    expect((await legend('pages-chart')).map((r) => r[0])).toEqual(['time', 'pages in use', 'pages in slabs']);
    // hovering the last interval shows each CPU's rate there
    const over = await page.locator('#throughput-chart .u-over').boundingBox();
    if (!over) throw new Error('no plot area in the throughput chart');
    await page.mouse.move(over.x + over.width - 2, over.y + over.height / 2);
    const last = data.throughput.cpus.map((y) => y[y.length - 1]);
    expect((await legend('throughput-chart')).slice(1)).toEqual(
      last.map((v, cpu) => [`CPU ${cpu}`, `${v.toLocaleString('en-US')} ops/s`]),
    );
    await page.mouse.move(0, 0);
    // every series is drawn: alone on the chart (the others hidden from the legend, as a
    // reader does: lines of equal values cover each other), the canvas holds its colour
    const label = (id: string, series: number) => page.locator(`#${id} .u-legend .u-series`).nth(series).locator('.u-label');
    for (const [id, colors] of [
      ['throughput-chart', ['#2f67b1', '#e07b00']],
      ['pages-chart', ['#2f67b1', '#e07b00']],
    ] as const)
      for (const [i, color] of colors.entries()) {
        const others = colors.map((_, j) => j + 1).filter((j) => j !== i + 1);
        for (const j of others) await label(id, j).click();
        expect(await inked(page, `#${id} canvas`, color), `${id} ${color}`).toBeGreaterThan(20);
        for (const j of others) await label(id, j).click();
      }
  });

  it('draws the fast-path share of each CPU', async () => {
    const fast = await boxes(opened.page, '#fastpath-chart .fpbar .fast');
    expect(fast.length).toBeGreaterThan(0);
    expect(fast.some(([w, h]) => w > 0 && h > 0)).toBe(true);
    const labels = await opened.page.$$eval('#fastpath-chart .fplabel', (ts) => ts.map((t) => t.textContent));
    for (let cpu = 0; cpu < report.config.cpus; cpu++) expect(labels).toContain(`CPU ${cpu} allocs`);
  });

  it('draws every final slab of every cache as a bar of free and used objects', async () => {
    const { page } = opened;
    const total = (report.slab_map ?? []).reduce((s, c) => s + c.slabs.length, 0);
    const bars = await boxes(page, '#slab-map g.slab');
    expect(bars).toHaveLength(total);
    for (const [w, h] of bars) expect(w * h).toBeGreaterThan(0);
    const heads = await page.$$eval('#slab-map h3', (hs) => hs.map((h) => h.textContent ?? ''));
    expect(heads.map((h) => h.split(' ')[0])).toEqual((report.slab_map ?? []).map((c) => c.cache));
    // each CPU with a cpu slab has its outlined bar
    const cpuSlabs = (report.slab_map ?? []).reduce((s, c) => s + c.slabs.filter((x) => x.place === 'cpu').length, 0);
    expect(
      await page.$$eval('#slab-map g.slab title', (ts) => ts.filter((t) => t.textContent?.startsWith('cpu slab')).length),
    ).toBe(cpuSlabs);
  });

  it('has the 26 counters of each active cache with a column per CPU', async () => {
    const tables = await opened.page.$$eval('#counters table', (ts) =>
      ts.map((t) => ({ rows: t.querySelectorAll('tbody tr').length, cols: t.querySelectorAll('thead th').length })),
    );
    expect(tables.length).toBeGreaterThan(0);
    for (const t of tables)
      expect(t).toEqual({ rows: PROFILE_STAT_ITEMS[report.config.profile].length, cols: 2 + report.config.cpus });
  });

  it('renders for a person to read (screenshot)', async () => {
    await opened.page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });

  it('shows notes, not charts, and no error for a run without timeline and slab map', async () => {
    const bare: RunReport = { ...report };
    delete bare.timeline;
    delete bare.slab_map;
    const o = await open(browser, htmlReport(bare), 'bare.html');
    expect(o.errors).toEqual([]);
    expect(await o.page.$$('#throughput-chart canvas')).toHaveLength(0);
    expect(await o.page.locator('#throughput-chart .note').innerText()).toContain('no timeline');
    expect(await o.page.locator('#slab-map .note').innerText()).toContain('no slab map');
    expect((await boxes(o.page, '#fastpath-chart .fpbar .fast')).length).toBeGreaterThan(0);
    await o.page.close();
  });
});

describe('slabsim run --report', () => {
  it('writes the one HTML file', () => {
    const dir = tempDir('slabsim-');
    const out = join(dir, 'run.html');
    const r = cli('run', '--workload', 'threadtest', '--cpus', '2', '--ops', '20000', '--report', out, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(dir)).toEqual(['run.html']);
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('id="slabsim-data"');
  });

  it('fails before the run, with one line and exit code 2, when the file cannot be written', () => {
    const r = cli('run', '--workload', 'threadtest', '--ops', '1000', '--report', '/nonexistent-dir/run.html');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("cannot write '/nonexistent-dir/run.html'");
  });
});
