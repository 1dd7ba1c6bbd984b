// `slabsim view`: the server's refusals, and the page in headless Chromium (from npm, see
// test/browser.ts): cross-origin isolated, nothing fetched from anywhere but the server,
// no console error; stepping known schedules shows, at every step, the line `slabsim
// replay --trace` prints and the machine's state at that step; a user's model file shows
// its words and sites; live mode on 2 CPUs advances, pauses and resumes.
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { liveCacheIds } from '../src/mm/slub/cache.js';
import { cacheById } from '../src/mm/slub/kmem_cache.js';
import { sheafRecords, slabRecords } from '../src/mm/slub/walk.js';
import { MODELS } from '../src/race/catalogue.js';
import { parseRaceSchedule, raceScheduleString, runRace } from '../src/race/run.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { ReplayStrategy } from '../src/sched/strategies/replay.js';
import { cacheNodeOff, type Machine } from '../src/shm/machine.js';
import { CACHE_NODE } from '../src/shm/structs.js';
import { buildViewer } from '../src/view/bundle.js';
import { checkHost, resolvePath, serveViewer } from '../src/view/server.js';
import { launchBrowser, loadSchedule, pressForward, recordPageErrors, startView } from './browser.js';
import ring from './fixtures/ring.model.js';
import { cli } from './helpers.js';

const SCREENSHOT = '/tmp/slabsim-view.png';
const LIVE_SCREENSHOT = '/tmp/slabsim-view-live.png';
/** Shrunk failing schedules of SLUB scenarios, the last on 7.0's sheaves (found by `slabsim race --mutant ...`). */
const SCHEDULES = [
  'v1:irq-between-tid-and-cas:5.4:no-tid:1:a35',
  'v1:concurrent-remote-frees:5.4:split-slab-cas:2:a2b9a14c9',
  'v1:barn-exchange-vs-flush:7.0:unlocked-barn:342:a2b8a30b15',
];

describe('the viewer server refuses', () => {
  const files = new Map([['/index.html', { type: 'text/html', body: 'x' }]]);

  it('paths outside its own files: .., encoded .., backslashes; unknown files are 404', () => {
    for (const bad of ['/../package.json', '/a/../../etc/passwd', '/%2e%2e/x', '/%2E%2E%2Fsecret', '/..%5cx', '/./index.html'])
      expect(resolvePath(bad, files)).toMatchObject({ status: 403 });
    expect(resolvePath('/%E0%A4%A', files)).toMatchObject({ status: 400 });
    expect(resolvePath('/', files)).toEqual({ path: '/index.html' });
    expect(resolvePath('/index.html?x=1', files)).toEqual({ path: '/index.html' });
    expect(resolvePath('/page.js', files)).toMatchObject({ status: 404 });
  });

  it('a .. path sent raw to a running server (403), with the isolation headers on the refusal too', async () => {
    const s = await serveViewer(files, { port: 0 });
    try {
      const port = Number(new URL(s.url).port);
      /** A request as written, unnormalised (fetch would resolve the .. itself). */
      const raw = (path: string, host = `127.0.0.1:${port}`): Promise<string> =>
        new Promise<string>((done, fail) => {
          const sock = connect(port, '127.0.0.1', () =>
            sock.end(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
          );
          let got = '';
          sock.on('data', (d) => (got += d));
          sock.on('end', () => done(got));
          sock.on('error', fail);
        });
      const refused = await raw('/../package.json');
      expect(refused).toMatch(/^HTTP\/1.1 403/);
      expect(refused).toContain('Cross-Origin-Embedder-Policy: require-corp');
      expect(refused).not.toContain('"name": "slabsim"');
      const ok = await fetch(s.url);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      // a loopback viewer answers only to loopback names (DNS rebinding)
      expect(await raw('/', 'evil.example')).toMatch(/^HTTP\/1.1 421/);
      expect(await raw('/', 'localhost')).toMatch(/^HTTP\/1.1 200/);
    } finally {
      await s.close();
    }
  });

  it('a non-loopback bind unless --host was given, before anything listens', async () => {
    expect(() => checkHost('0.0.0.0', false)).toThrow('refusing to serve on 0.0.0.0, which is not loopback: pass --host 0.0.0.0');
    expect(() => checkHost('192.168.1.5', false)).toThrow('not loopback');
    expect(checkHost('0.0.0.0', true)).toBe('0.0.0.0');
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(checkHost(h, false)).toBe(h);
    await expect(serveViewer(new Map(), { host: '0.0.0.0', port: 0 })).rejects.toThrow('not loopback');
  });

  it('bad flags and schedules on the command line: one line, exit 2, nothing served', () => {
    const cases: Array<[string[], string]> = [
      [['--host', 'example.com'], "--host: expected an IP address or localhost, got 'example.com'"],
      [['--port', '70000'], 'expected an integer in 0..65535'],
      [['--schedule', 'v1:nope:5.4:none:1:a3'], "schedule is for model 'nope'"],
      [['--model', 'test/fixtures/none.model.ts'], 'test/fixtures/none.model.ts: no such file'],
    ];
    for (const [args, msg] of cases) {
      const r = cli('view', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(msg);
    }
  });
});

describe('the viewer bundle', () => {
  it('refuses, in one line naming the file, a model file that imports what a browser lacks', async () => {
    const err = await buildViewer([
      { path: new URL('./fixtures/stress_cases.model.ts', import.meta.url).pathname, file: 'x.model.ts' },
    ]).catch((e: Error) => e);
    // stress_cases imports only slabsim: it bundles
    expect(err).toBeInstanceOf(Map);
    const bad = await buildViewer([{ path: new URL('./browser.ts', import.meta.url).pathname, file: 'test/browser.ts' }]).catch(
      (e: Error) => e,
    );
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toMatch(
      /^test\/browser.ts: cannot bundle the viewer: .*imports node:fs, which a browser does not have$/,
    );
  });
});

/** The machine as the simulator has it after step k of a schedule (a replay cut after k + 1 steps). */
function machineAt(schedule: string, k: number): Machine {
  const { cfg, choices } = parseRaceSchedule(schedule, [ring, ...MODELS]);
  return runRace(cfg, new ReplayStrategy(choices), { stopAfter: k + 1 }).machine;
}

/**
 * What the picture must show at that step: per cache its slabs (with the objects held in
 * sheaves), each CPU's freelist length and main and spare sheaf sizes (-1: none), each
 * node's nr_partial and barn counts.
 */
function expectedState(m: Machine) {
  return liveCacheIds(m).map((id) => {
    const s = cacheById(m, id);
    const recs = slabRecords(s);
    const nrPartial = Array.from({ length: m.cfg.nodes }, (_, node) => m.u32[cacheNodeOff(m, id, node) + CACHE_NODE.nrPartial]);
    // a cache with no slab at all is drawn as one line
    if (recs.length === 0 && nrPartial.every((n) => n === 0))
      return { slabs: 0, slab: [], freelist: [], sheaves: [], nrPartial: [], barns: [] };
    const sheaves = sheafRecords(s);
    const sizeOf = (place: string, cpu: number) => sheaves.find((x) => x.place === place && x.cpu === cpu)?.size ?? -1;
    return {
      slabs: recs.length,
      slab: recs
        .map((r) => ({
          pfn: r.pfn,
          inuse: r.inuse,
          objects: r.objects,
          free: r.freeIdx.length,
          cached: r.cachedIdx.length,
          frozen: r.frozen,
        }))
        .sort((a, b) => a.pfn - b.pfn),
      freelist: Array.from(
        { length: m.cfg.cpus },
        (_, cpu) => recs.find((r) => r.place.kind === 'cpu' && r.place.cpu === cpu)?.cpuFree ?? 0,
      ),
      sheaves: Array.from({ length: m.cfg.cpus }, (_, cpu) => [sizeOf('main', cpu), sizeOf('spare', cpu)]),
      nrPartial,
      barns: s.sheafCapacity
        ? Array.from({ length: m.cfg.nodes }, (_, node) => {
            const n = cacheNodeOff(m, id, node);
            return [m.u32[n + CACHE_NODE.nrFull], m.u32[n + CACHE_NODE.nrEmpty]];
          })
        : [],
    };
  });
}

/**
 * What the page shows of its current step: the step's line, CPU, site and CAS results,
 * and the same numbers as expectedState(), as the picture drew them. One round trip.
 */
const shownStep = (page: Page) =>
  page.evaluate(() => {
    const text = (id: string) => (document.getElementById(id) as HTMLElement).innerText;
    const num = (e: Element, k: string) => Number((e as HTMLElement).dataset[k]);
    return {
      line: text('step-line'),
      cpu: text('step-cpu'),
      site: text('step-site'),
      results: [...document.querySelectorAll('#step-accesses li[data-ok]:not([data-ok=""])')].map(
        (l) => (l as HTMLElement).dataset.ok,
      ),
      state: [...document.querySelectorAll('#picture .cache')].map((c) => ({
        slabs: num(c, 'slabs'),
        slab: [...c.querySelectorAll('.slab')]
          .map((s) => ({
            pfn: num(s, 'pfn'),
            inuse: num(s, 'inuse'),
            objects: num(s, 'objects'),
            free: s.querySelectorAll('.cell.free, .cell.cpufree').length,
            cached: s.querySelectorAll('.cell.sheaf').length,
            frozen: num(s, 'frozen') === 1,
          }))
          .sort((a, b) => a.pfn - b.pfn),
        freelist: [...c.querySelectorAll('.kcc')].map((e) => num(e, 'freelist')),
        sheaves: [...c.querySelectorAll('.kcc')].map((e) => [num(e, 'main'), num(e, 'spare')]),
        nrPartial: [...c.querySelectorAll('.box.node')].map((e) => num(e, 'nrPartial')),
        barns: [...c.querySelectorAll('.box.node .barn')].map((e) => [num(e, 'barnFull'), num(e, 'barnEmpty')]),
      })),
    };
  });

/** One line of `slabsim replay --trace`: its CPU, CAS results and site. */
function parts(line: string): { cpu: string; results: string[]; site: string } {
  const m = /^\s*\d+ {2}(CPU\d+) {2}(.*)-> (.*)$/.exec(line);
  if (!m) throw new Error(`not a trace line: ${line}`);
  return { cpu: m[1], results: [...m[2].matchAll(/ (ok|failed)(?=,|\s*$)/g)].map((x) => x[1]), site: m[3] };
}

describe('the viewer in headless Chromium', () => {
  let server: ChildProcess;
  let url = '';
  let startLine = '';
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  const requests: string[] = [];
  let readyMs = 0;
  let loadMs = 0;
  let setupError: unknown;
  let navigations = 0;

  /** Open the page anew (a query of its own makes it a full load) at step k of a schedule, from the URL's hash. */
  const openAt = async (schedule: string, k: number): Promise<void> => {
    await page.goto(`${url}?n=${++navigations}#schedule=${encodeURIComponent(schedule)}&step=${k}`);
    try {
      await page.waitForSelector(`#step[data-step="${k}"]`);
    } catch (e) {
      throw new Error(`step ${k} not shown; status: ${await page.locator('#status').innerText()}; ${(e as Error).message}`);
    }
  };

  beforeAll(async () => {
    try {
      browser = await launchBrowser(inject('browser'));
      // The ring model imports only 'slabsim', which the bundle takes from the running copy.
      ({ child: server, startLine, url } = await startView('--model', 'test/fixtures/ring.model.ts'));
      context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      context.on('request', (r) => requests.push(r.url()));
      page = await context.newPage();
      recordPageErrors(page, errors);
      const t0 = Date.now();
      await page.goto(url);
      loadMs = Date.now() - t0;
      await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
      readyMs = Date.now() - t0;
    } catch (e) {
      setupError = e;
    }
  });
  beforeEach(() => {
    if (setupError) throw setupError;
  });
  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
  });

  it('starts: the command prints its URL, and the page is interactive (time printed, not asserted)', async () => {
    expect(startLine).toMatch(/^slabsim view: http:\/\/127\.0\.0\.1:\d+\/ \(page built in \d+ ms; Ctrl-C stops\)$/);
    const inPage = Number(await page.evaluate(() => document.body.dataset.ready));
    console.log(
      `viewer: page interactive ${readyMs} ms after navigation (load event ${loadMs} ms; ${inPage} ms from the script's start)`,
    );
    expect(await page.locator('#status').innerText()).toMatch(/^ready in \d+ ms$/);
  });

  it('is cross-origin isolated and has SharedArrayBuffer', async () => {
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.evaluate(() => typeof SharedArrayBuffer)).toBe('function');
  });

  for (const schedule of SCHEDULES) {
    it(`steps ${schedule.split(':')[1]}: every step shows the CPU, site and CAS result of replay --trace, and the state at that step`, async () => {
      const r = cli('replay', schedule, '--trace');
      expect(r.status).toBe(1); // the mutant's failure
      const lines = r.stdout.split('\n').filter((l) => /^\s*\d+ {2}CPU\d+ /.test(l));
      expect(lines.length).toBeGreaterThan(20);
      await loadSchedule(page, schedule);
      expect(await page.locator('#outcome').innerText()).toContain('FAILED');
      const check = async (k: number): Promise<void> => {
        await page.waitForSelector(`#step[data-step="${k}"]`);
        const shown = await shownStep(page);
        expect(shown.line).toBe(lines[k]);
        const want = parts(lines[k]);
        expect(shown.cpu).toBe(want.cpu);
        expect(shown.site.replace(/ \((blocked|spinning)\)$/, '')).toBe(want.site.replace(/ \((blocked|spinning)\)$/, ''));
        expect(shown.results).toEqual(want.results);
        expect(shown.state, `state at step ${k}`).toEqual(expectedState(machineAt(schedule, k)));
      };
      for (let k = 0; k < lines.length; k++) {
        await (k === 0 ? page.click('#forward') : pressForward(page));
        await check(k);
      }
      expect(page.url()).toContain(`step=${lines.length - 1}`);
      // and back: the same steps, replayed again from the start
      for (let k = lines.length - 2; k >= lines.length - 6; k--) {
        await page.click('#back');
        await check(k);
      }
      await page.click('#to-failure');
      await check(lines.length - 1);
    });
  }

  it('marks what a step touched: a CAS on a kmem_cache_cpu outlines that CPU', async () => {
    const schedule = SCHEDULES[0];
    const r = cli('replay', schedule, '--trace');
    const k = r.stdout.split('\n').findIndex((l) => /cas2 \[\d+\] 0x[0-9a-f]+ ok/.test(l));
    expect(k).toBeGreaterThan(0);
    await openAt(schedule, k);
    const cpu = /CPU(\d+)/.exec(r.stdout.split('\n')[k])?.[1];
    expect(await page.$$eval('#picture .kcc.hl', (es) => es.map((e) => (e as HTMLElement).dataset.cpu))).toEqual([cpu]);
    expect(await page.$$('#words tr.hl')).toHaveLength(1);
    // a link changed in place (only its hash) loads that run at that step
    await page.evaluate((s) => (location.hash = `#schedule=${encodeURIComponent(s)}&step=5`), SCHEDULES[1]);
    await page.waitForSelector('#step[data-step="5"]');
    expect(await page.inputValue('#schedule')).toBe(SCHEDULES[1]);
    expect(page.url()).toContain(`#schedule=${encodeURIComponent(SCHEDULES[1])}&step=5`);
  });

  it("shows a user's model from --model: its memory words with their values at each step, and its threads' sites", async () => {
    const cfg = { model: ring, profile: null, mutant: null, seed: 3 };
    const run = runRace(cfg, new RandomStrategy(3), { trace: true });
    const schedule = raceScheduleString(cfg, run.choices);
    const names = await page.$$eval('#model option', (os) => os.map((o) => o.textContent));
    expect(names[0]).toBe('vyukov-ring (your model)');
    for (const k of [0, Math.floor(run.steps / 2), run.steps - 1]) {
      await openAt(schedule, k);
      const m = machineAt(schedule, k);
      const words = await page.$$eval('#words tbody tr', (rs) =>
        rs.map((r) => [Number((r as HTMLElement).dataset.word), r.querySelector('td.v')?.textContent]),
      );
      expect(words.length).toBeGreaterThan(2);
      for (const [w, v] of words) expect(v, `word ${w} at step ${k}`).toBe(`0x${m.u32[w as number].toString(16)}`);
      const sites = await page.$$eval('#threads .thread span:nth-of-type(1)', (ss) => ss.map((s) => s.textContent));
      const latest = Array.from(
        { length: ring.cpus },
        (_, cpu) =>
          run.trace
            ?.slice(0, k + 1)
            .filter((t) => t.cpu === cpu)
            .pop()?.site ?? '(not started)',
      );
      expect(sites).toEqual(latest);
    }
    expect(await page.locator('#picture').innerText()).toContain('This model has no slab cache');
  });

  it('finds a failure of a mutant in the page (explored, shrunk, loaded) and plays it', async () => {
    await page.goto(`${url}?n=${++navigations}`);
    await page.waitForSelector('body[data-ready]');
    await page.selectOption('#model', 'treiber-stack');
    await page.selectOption('#mutant', 'untagged-stack');
    await page.fill('#seed', '1');
    await page.click('#hunt');
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('found and shrunk'), null, {
      timeout: 60_000,
    });
    const schedule = await page.inputValue('#schedule');
    expect(schedule).toMatch(/^v1:treiber-stack:-:untagged-stack:\d+:/);
    expect(await page.locator('#outcome').innerText()).toMatch(/^FAILED at step \d+/);
    // the schedule fails the same way on the command line
    expect(cli('replay', schedule).status).toBe(1);
    await page.fill('#speed', '60');
    await page.click('#play');
    await page.waitForFunction(() => Number(document.getElementById('step')?.dataset.step) >= 5);
    await page.click('#play');
    await page.waitForFunction(() => document.getElementById('play')?.textContent === 'play');
    const stopped = await page.getAttribute('#step', 'data-step');
    await page.waitForTimeout(300);
    expect(await page.getAttribute('#step', 'data-step')).toBe(stopped);
  });

  it('renders for a person to read (screenshot)', async () => {
    await openAt(SCHEDULES[1], 20);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('live mode on 2 CPUs: the counters advance, stop while paused, advance again, take up a new interrupt rate, and the run ends clean', async () => {
    await page.click('#tab-live');
    await page.fill('#cpus', '2');
    await page.selectOption('#workload', 'threadtest');
    await page.click('#live-start');
    const total = async (): Promise<number[]> =>
      page.$$eval('#live-counters .ops', (es) => es.map((e) => Number((e as HTMLElement).dataset.ops)));
    const running = (before: number[]): boolean => {
      const ops = [...document.querySelectorAll('#live-counters .ops')].map((e) => Number((e as HTMLElement).dataset.ops));
      return ops.length === before.length && ops.every((o, i) => o > before[i]);
    };
    await page.waitForFunction(running, [0, 0], { timeout: 30_000 });
    const a = await total();
    await page.waitForTimeout(600);
    const b = await total();
    expect(b).toHaveLength(2);
    for (let cpu = 0; cpu < 2; cpu++) expect(b[cpu]).toBeGreaterThan(a[cpu]);
    await page.click('#live-pause');
    await page.waitForTimeout(500); // CPUs stop at their next control point, a sample lands
    const c = await total();
    await page.waitForTimeout(800);
    expect(await total()).toEqual(c);
    await page.click('#live-resume');
    await page.waitForFunction(running, c, { timeout: 30_000 });
    // the interrupt rate, changed while the CPUs run (it starts at 0: no interrupt before)
    await page.fill('#irq', '0.05');
    await page.dispatchEvent('#irq', 'change');
    expect(await page.$$('#chart-ops canvas')).not.toHaveLength(0);
    await page.waitForTimeout(1200); // a picture and a few chart samples
    await page.screenshot({ path: LIVE_SCREENSHOT, fullPage: true });
    await page.click('#live-stop');
    await page.waitForSelector('#live-checks[data-ok]', { timeout: 30_000 });
    expect(await page.locator('#live-checks').innerText()).toMatch(/ledger and validate ok/);
    expect(Number(await page.getAttribute('#live-checks', 'data-irq-allocs'))).toBeGreaterThan(0);
  });

  it("live mode on 7.0: the CPUs run on sheaves (each CPU's main sheaf and the barns drawn), and the run ends clean", async () => {
    await page.goto(`${url}?n=${++navigations}`);
    await page.waitForSelector('body[data-ready]');
    await page.click('#tab-live');
    await page.fill('#cpus', '2');
    await page.selectOption('#workload', 'threadtest');
    await page.selectOption('#live-profile', '7.0');
    await page.click('#live-start');
    await page.waitForFunction(
      () => {
        const ops = [...document.querySelectorAll('#live-counters .ops')].map((e) => Number((e as HTMLElement).dataset.ops));
        return ops.length === 2 && ops.every((o) => o > 0);
      },
      null,
      { timeout: 30_000 },
    );
    // every CPU of a cache in use has a main sheaf, and 7.0 draws no cpu slab
    await page.waitForSelector('#live-picture .kcc[data-main]:not([data-main="-1"])', { timeout: 30_000 });
    expect(await page.locator('#live-picture .kcc h4').first().innerText()).toMatch(/slub_percpu_sheaves/);
    expect(await page.$$('#live-picture .barn')).not.toHaveLength(0);
    await page.click('#live-stop');
    await page.waitForSelector('#live-checks[data-ok]', { timeout: 30_000 });
    expect(await page.locator('#live-checks').innerText()).toMatch(/ledger and validate ok/);
  });

  it('made no console error and no request to anything but the server', () => {
    expect(errors).toEqual([]);
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) expect(r.startsWith(url) || r.startsWith('data:'), r).toBe(true);
  });
});
