// The HTML report of a trace replay (`slabsim trace --report`), opened in headless
// Chromium (test/browser.ts): the project's charts drawn over the trace's time, one
// slab-pages line per profile and the live objects, the tables, no error, nothing fetched.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { traceHtml, traceHtmlData } from '../src/trace/html.js';
import { LEAK_CALL_SITE, synthSource } from '../src/trace/synth.js';
import { type TraceReport, traceReplay } from '../src/trace/trace.js';
import { inked, launchBrowser, recordPageErrors } from './browser.js';
import { tempDir } from './temp.js';

describe('the HTML report of a trace replay', () => {
  let report: TraceReport;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const requests: string[] = [];
  let url = '';
  let setupError: unknown;
  beforeAll(async () => {
    try {
      report = await traceReplay(synthSource({ events: 8000, cpus: 2, live: 300, leak: { count: 40 }, handoff: true, seed: 2 }), {
        profiles: ['6.6', '7.0'],
      });
      const file = join(tempDir('slabsim-trace-html-'), 'trace.html');
      writeFileSync(file, traceHtml(report));
      url = pathToFileURL(file).href;
      browser = await launchBrowser(inject('browser'));
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      recordPageErrors(page, errors);
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(url, { waitUntil: 'load' });
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

  it('carries one slab-pages series per profile over the trace time, and the live objects', () => {
    const d = traceHtmlData(report);
    expect(d.profiles).toEqual(['6.6', '7.0']);
    expect(d.t.length).toBeGreaterThan(100);
    expect(d.t).toEqual([...d.t].sort((a, b) => a - b));
    expect(d.pages).toHaveLength(2);
    expect(d.live[d.live.length - 1]).toBe(40); // the leak is what is left
  });

  it('loads with no error and fetches nothing', () => {
    expect(errors).toEqual([]);
    expect(requests.filter((r) => r !== url)).toEqual([]);
  });

  it('draws the charts with uPlot: each series of the legend inked in its colour', async () => {
    /** The legend's marker colours of a chart's series (uPlot's first row is the x axis). */
    const colours = (chart: string): Promise<string[]> =>
      page.$$eval(`#${chart} .u-series .u-marker`, (els) =>
        els.slice(1).map((e) => {
          const [r, g, b] = (getComputedStyle(e).borderColor.match(/\d+/g) ?? []).map(Number);
          return `#${[r, g, b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
        }),
      );
    const pages = await colours('pages-chart');
    expect(pages).toHaveLength(2);
    expect(new Set(pages).size).toBe(2);
    for (const c of pages) expect(await inked(page, '#pages-chart canvas', c), c).toBeGreaterThan(20);
    const live = await colours('live-chart');
    expect(live).toHaveLength(1);
    expect(await inked(page, '#live-chart canvas', live[0])).toBeGreaterThan(20);
  });

  it('shows the profiles, the leak first in its table, and the counters of each profile', async () => {
    const rows = await page.$$eval('#profiles tbody tr', (trs) => trs.map((tr) => tr.querySelector('td')?.textContent));
    expect(rows).toEqual(['6.6', '7.0']);
    const leak = await page.$eval('#leaks tbody tr td', (td) => td.textContent);
    expect(leak).toBe(LEAK_CALL_SITE);
    const heads = await page.$$eval('#counters thead th', (ths) => ths.map((th) => th.textContent));
    expect(heads).toEqual(['counter', '6.6', '7.0']);
    expect(await page.$$('#fastpath .fprow')).toHaveLength(4);
  });
});
