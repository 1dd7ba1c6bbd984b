// `slabsim view` in the weaker memory modes (issue 18, "The picture"), in headless
// Chromium (test/browser.ts): a v2 schedule opens in the mode it names; --memory-model and
// the page's selector pick the mode of new runs; stepping a shrunk tso failure of
// Peterson's lock (found here with explore()) and an arm failure of message passing
// draws, at every step, each CPU's store buffer as `slabsim replay --trace` prints it and
// as the simulator holds it, the stores a step sent to memory, the stale reads and the
// loads that read past another CPU's buffered store.
import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { explore, replay } from '../src/index.js';
import type { Model } from '../src/race/model.js';
import { parseRaceSchedule, runRace } from '../src/race/run.js';
import type { TraceStep } from '../src/sched/scheduler.js';
import { ReplayStrategy } from '../src/sched/strategies/replay.js';
import { launchBrowser, loadSchedule, pressForward, recordPageErrors, startView } from './browser.js';
import mp from './fixtures/message_passing.model.js';
import { cli } from './helpers.js';
import { peterson } from './models/locks.js';

const PETERSON = 'test/fixtures/peterson.model.ts';
const MP = 'test/fixtures/message_passing.model.ts';
const SCREENSHOT = '/tmp/slabsim-view-weak.png';
const petersonModel = peterson({ relax: true });

/** `slabsim replay --trace` of a schedule: per step its line and its `buffers:` line ('' when none). */
function cliTrace(schedule: string, file: string): Array<{ line: string; buffers: string }> {
  const r = cli('replay', schedule, '--model', file, '--trace');
  expect(r.status, r.stderr).toBe(1);
  const steps: Array<{ line: string; buffers: string }> = [];
  for (const l of r.stdout.split('\n')) {
    if (/^\s*\d+ {2}CPU\d+ /.test(l)) steps.push({ line: l, buffers: '' });
    else if (l.startsWith('         buffers: ')) steps[steps.length - 1].buffers = l;
  }
  return steps;
}

/** What the page draws of its current step. One round trip. */
const drawn = (page: Page) =>
  page.evaluate(() => {
    const data = (e: Element, k: string) => (e as HTMLElement).dataset[k] ?? '';
    const hex = (v: string) => `0x${Number(v).toString(16)}`;
    return {
      line: (document.getElementById('step-line') as HTMLElement).innerText,
      flush: data(document.getElementById('step') as HTMLElement, 'flush') === '1',
      // each CPU's buffer drawn as the trace writes it: [w]=0xv, '|' for a wmb boundary
      buffers: [...document.querySelectorAll('#buffers .sb')].map((sb) =>
        [...sb.querySelectorAll('.sb-entry, .wmb')]
          .map((e) =>
            e.classList.contains('wmb')
              ? '|'
              : `[${data(e, 'word')}]=${hex(data(e, 'value'))}${data(e, 'release') ? ' rel' : ''}`,
          )
          .join(' '),
      ),
      epochs: [...document.querySelectorAll('#buffers .sb')].map((sb) =>
        [...sb.querySelectorAll('.sb-entry')].map((e) => Number(data(e, 'epoch'))),
      ),
      flushed: [...document.querySelectorAll('#buffers .sb-flushed')].map(
        (e) => `flush [${data(e, 'word')}] ${hex(data(e, 'value'))}`,
      ),
      stale: [...document.querySelectorAll('#step-accesses li[data-stale]')].map(
        (e) => `load [${data(e, 'word')}] ${hex(data(e, 'value'))} (stale: memory ${hex(data(e, 'stale'))})`,
      ),
      past: [...document.querySelectorAll('#step-accesses li[data-past]')].flatMap((e) =>
        data(e, 'past')
          .split(' ')
          .map((p) => `${data(e, 'word')}<${p}`),
      ),
      // the buffered stores drawn as read past
      passed: [...document.querySelectorAll('#buffers .sb')].flatMap((sb) =>
        [...sb.querySelectorAll('.sb-entry.passed')].map((e) => `${data(e, 'word')}<${data(sb, 'cpu')}:${data(e, 'value')}`),
      ),
      words: [...document.querySelectorAll('#words tbody tr')].map((r) => [
        Number(data(r, 'word')),
        r.querySelector('td.v')?.textContent ?? '',
      ]),
    };
  });

/**
 * The buffered stores of other CPUs that a load of the step read past (`word<cpu:value`:
 * the CPU's newest store to the word differs from what the load returned), from the
 * simulator's trace.
 */
function readPast(t: TraceStep): string[] {
  return (t.accesses ?? []).flatMap((a) => {
    if (a.kind !== 'load' || a.forwarded) return [];
    return (t.buffers ?? []).flatMap((b, cpu) => {
      const newest = b.filter((e) => e.word === a.word).pop();
      return cpu !== t.cpu && newest && newest.value !== a.value ? [`${a.word}<${cpu}:${newest.value}`] : [];
    });
  });
}

describe('the viewer in the weaker memory modes, in headless Chromium', () => {
  let server: ChildProcess;
  let url = '';
  let startLine = '';
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  let setupError: unknown;

  beforeAll(async () => {
    try {
      browser = await launchBrowser(inject('browser'));
      ({ child: server, startLine, url } = await startView('--model', PETERSON, '--model', MP, '--memory-model', 'tso'));
      page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
      recordPageErrors(page, errors);
      await page.goto(url);
      await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
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

  it('--memory-model tso: the printed URL names the mode, and the first run the page makes is a tso run', async () => {
    expect(startLine).toMatch(/^slabsim view: http:\/\/127\.0\.0\.1:\d+\/#memory-model=tso \(page built in \d+ ms/);
    expect(await page.inputValue('#memory-model')).toBe('tso');
    expect(await page.inputValue('#schedule')).toMatch(/^v2:peterson-relax:-:none:1:tso:/);
    expect(await page.isVisible('#buffers .sb[data-cpu="1"]')).toBe(true);
  });

  it('the selector picks the mode of a new run; a mutant picks the mode that finds it', async () => {
    await page.selectOption('#memory-model', 'sc');
    await page.click('#generate');
    await page.waitForFunction(() => (document.getElementById('schedule') as HTMLInputElement).value.startsWith('v1:'));
    expect(await page.isHidden('#buffers-section')).toBe(true);
    await page.selectOption('#memory-model', 'arm');
    await page.click('#generate');
    await page.waitForFunction(() => /:arm:/.test((document.getElementById('schedule') as HTMLInputElement).value));
    expect(await page.isVisible('#buffers-section')).toBe(true);
    await page.selectOption('#memory-model', 'sc');
    await page.selectOption('#model', 'treiber-stack');
    await page.selectOption('#mutant', 'relaxed-treiber-push');
    expect(await page.inputValue('#memory-model')).toBe('arm');
    // and the hunt explores in that mode
    await page.click('#hunt');
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('found and shrunk'), null, {
      timeout: 60_000,
    });
    expect(await page.inputValue('#schedule')).toMatch(/^v2:treiber-stack:-:relaxed-treiber-push:\d+:arm:/);
  });

  /**
   * Load `schedule` and step it forward to its end, then back a few steps: at each step the
   * drawn buffers, flushes, stale reads and read-past marks equal what replay --trace
   * prints and what the simulator holds; returns the read-past marks seen.
   */
  async function stepThrough(model: Model, file: string, schedule: string): Promise<string[]> {
    const lines = cliTrace(schedule, file);
    const trace = replay(model, schedule).trace;
    expect(trace.length).toBe(lines.length);
    await loadSchedule(page, schedule);
    expect(await page.locator('#outcome').innerText()).toContain('FAILED');
    const mode = parseRaceSchedule(schedule, [model]).cfg.memoryModel;
    expect(await page.inputValue('#memory-model')).toBe(mode);
    const seen: string[] = [];
    const check = async (k: number): Promise<void> => {
      await page.waitForSelector(`#step[data-step="${k}"]`);
      const d = await drawn(page);
      const { line, buffers } = lines[k];
      const t = trace[k];
      const at = `step ${k}: ${line}`;
      expect(d.line, at).toBe([line, buffers].filter(Boolean).join('\n'));
      // the buffers drawn are the ones replay --trace prints after the step
      const printed = d.buffers.flatMap((b, cpu) => (b ? [`CPU${cpu} ${b}`] : []));
      expect(printed.length ? `         buffers: ${printed.join('; ')}` : '', at).toBe(buffers);
      // and the simulator's, store for store with its smp_wmb epoch
      expect(d.epochs, at).toEqual(t.buffers?.map((b) => b.map((e) => e.epoch)));
      expect(d.flush, at).toBe(/\(its store buffer to memory\)$/.test(line));
      expect(d.flushed, at).toEqual([...line.matchAll(/flush \[\d+\] 0x[0-9a-f]+/g)].map((x) => x[0]));
      expect(d.stale, at).toEqual([...line.matchAll(/load \[\d+\] 0x[0-9a-f]+ \(stale: memory 0x[0-9a-f]+\)/g)].map((x) => x[0]));
      expect(d.past, at).toEqual(readPast(t));
      expect(d.passed.sort(), at).toEqual(readPast(t).sort());
      seen.push(...d.past);
      const { cfg, choices } = parseRaceSchedule(schedule, [model]);
      const m = runRace(cfg, new ReplayStrategy(choices), { stopAfter: k + 1 }).machine;
      for (const [w, v] of d.words) expect(v, `${at}: word ${w}`).toBe(`0x${m.u32[w as number].toString(16)}`);
    };
    for (let k = 0; k < lines.length; k++) {
      await (k === 0 ? page.click('#forward') : pressForward(page));
      await check(k);
    }
    for (let k = lines.length - 2; k >= Math.max(0, lines.length - 4); k--) {
      await page.click('#back');
      await check(k);
    }
    return seen;
  }

  it("steps a shrunk tso failure of Peterson's lock: the flag store waits in the buffer while the other CPU reads past it", async () => {
    const r = await explore(petersonModel, { runs: 2000, memoryModel: 'tso' });
    const schedule = r.models[0].failure?.shrunk ?? '';
    expect(schedule).toMatch(/^v2:peterson-relax:-:none:\d+:tso:/);
    const past = await stepThrough(petersonModel, PETERSON, schedule);
    // a CPU read the other's flag as 0 while the other's store of 1 sat in its buffer
    const trace = replay(petersonModel, schedule).trace;
    const flags = trace.flatMap((t) =>
      (t.accesses ?? []).filter((a) => a.kind === 'store' && a.value === 1 && a.buffered).map((a) => `${a.word}<${t.cpu}:1`),
    );
    expect(past.some((p) => flags.includes(p))).toBe(true);
    // that step, drawn for a person to read
    const k = trace.findIndex((t) => readPast(t).some((p) => flags.includes(p)));
    await page.fill('#slider', String(k));
    await page.waitForSelector(`#step[data-step="${k}"]`);
    expect(await page.locator('#step-accesses li.past').innerText()).toMatch(/read past CPU\d's buffered 0x1/);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('steps a shrunk arm failure of message passing: the smp_wmb boundary in the buffer, the flushes, the stale read', async () => {
    const r = await explore(mp, { runs: 2000, memoryModel: 'arm' });
    const schedule = r.models[0].failure?.shrunk ?? '';
    expect(schedule).toMatch(/^v2:message-passing:-:none:\d+:arm:/);
    await stepThrough(mp, MP, schedule);
    // what the run shows at its interesting steps, as drawn
    const trace = replay(mp, schedule).trace;
    const wmb = trace.findIndex((t) => t.buffers?.[0].some((e) => e.epoch > 0) && t.buffers[0].length === 2);
    const stale = trace.findIndex((t) => t.accesses?.some((a) => a.stale !== undefined));
    expect(wmb).toBeGreaterThanOrEqual(0);
    expect(stale).toBeGreaterThan(wmb);
    await page.fill('#slider', String(wmb));
    await page.waitForSelector(`#step[data-step="${wmb}"]`);
    expect(await page.$$('#buffers .sb[data-cpu="0"] .wmb')).toHaveLength(1);
    await page.fill('#slider', String(stale));
    await page.waitForSelector(`#step[data-step="${stale}"]`);
    expect(await page.locator('#step-accesses li.stale').innerText()).toMatch(/stale: memory holds 0x1/);
  });

  it('view --schedule with a v2 string opens that run in the mode it names', async () => {
    const r = await explore(mp, { runs: 2000, memoryModel: 'arm' });
    const schedule = r.models[0].failure?.shrunk ?? '';
    const other = await startView('--model', MP, '--schedule', schedule);
    try {
      expect(other.url).toContain(`#schedule=${encodeURIComponent(schedule)}`);
      await page.goto(other.url);
      await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
      expect(await page.inputValue('#schedule')).toBe(schedule);
      expect(await page.inputValue('#memory-model')).toBe('arm');
      await page.click('#to-failure');
      const last = replay(mp, schedule).trace.length - 1;
      await page.waitForSelector(`#step[data-step="${last}"]`);
      expect(await page.$$('#buffers .sb')).toHaveLength(2);
      expect(await page.$$('#step-accesses li.stale')).toHaveLength(1);
    } finally {
      other.child.kill('SIGTERM');
    }
  });

  it('made no console error', () => {
    expect(errors).toEqual([]);
  });
});

describe('slabsim view --memory-model refuses', () => {
  it('a schedule of another mode, and an unknown mode: one line, exit 2, nothing served', () => {
    const cases: Array<[string[], string]> = [
      [
        ['--model', MP, '--schedule', 'v2:message-passing:-:none:1:arm:a', '--memory-model', 'tso'],
        'the schedule names memory model arm, not tso',
      ],
      [['--schedule', 'v1:treiber-stack:-:none:1:a', '--memory-model', 'arm'], 'names memory model sc (a v1 schedule), not arm'],
      [['--memory-model', 'bogus'], "argument 'bogus' is invalid. expected one of sc, tso, arm, js"],
    ];
    for (const [args, msg] of cases) {
      const r = cli('view', '--port', '0', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(msg);
    }
  });
});
