// The browser of the browser tests, from npm: nothing to install but `npm install`.
//
// Where it comes from, first match wins:
//   1. CHROME_PATH, when set (an explicit choice; it must exist);
//   2. on Linux x64, @sparticuz/chromium, which ships a Chromium inside the package and
//      unpacks it on first use (about 1.5 s) into node_modules/.cache, per version;
//   3. a system Chromium or Chrome at the usual places.
// Neither: one line naming both ways to get one.
//
// resolveBrowser() runs once per vitest invocation, in test/global_setup.ts, which hands
// the path (or the error) to the test files: two files unpacking at once would race.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { inject } from 'vitest';
import { builtBin, builtDir } from './built.js';
import { firstLine } from './helpers.js';

export const SYSTEM_BROWSERS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

export interface BrowserHost {
  platform: string;
  arch: string;
  env: Record<string, string | undefined>;
  exists: (path: string) => boolean;
  /** unpack the npm package's Chromium and return its path; null when the package is absent */
  npmChromium: () => Promise<string | null>;
}

/** The path of the browser to launch, or a one-line Error saying how to get one. */
export async function resolveBrowser(host: BrowserHost = nodeHost()): Promise<string> {
  const fromEnv = host.env.CHROME_PATH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!host.exists(fromEnv))
      throw new Error(`CHROME_PATH is ${fromEnv}, which does not exist (expected a Chromium or Chrome binary)`);
    return fromEnv;
  }
  if (host.platform === 'linux' && host.arch === 'x64') {
    const path = await host.npmChromium();
    if (path) return path;
  }
  const system = SYSTEM_BROWSERS.find((p) => host.exists(p));
  if (system) return system;
  const npm =
    host.platform === 'linux' && host.arch === 'x64'
      ? '@sparticuz/chromium is not installed (npm install installs it)'
      : '@sparticuz/chromium ships one for Linux x64 only';
  throw new Error(
    `no browser for the browser tests on ${host.platform}-${host.arch}: ${npm}; ` +
      `otherwise set CHROME_PATH or install Chromium or Chrome (looked in ${SYSTEM_BROWSERS[0]}, ...)`,
  );
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Unpack @sparticuz/chromium into node_modules/.cache/slabsim-chromium/<version>, once. */
async function unpackNpmChromium(): Promise<string | null> {
  let entry: string;
  try {
    entry = createRequire(join(root, 'package.json')).resolve('@sparticuz/chromium');
  } catch {
    return null;
  }
  let dir = dirname(entry);
  while (!existsSync(join(dir, 'package.json')) || !dir.endsWith(join('@sparticuz', 'chromium'))) dir = dirname(dir);
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
  const cache = join(root, 'node_modules', '.cache', 'slabsim-chromium');
  const target = join(cache, version);
  if (existsSync(join(target, 'chromium'))) return join(target, 'chromium');
  // The package unpacks into os.tmpdir() and trusts any `chromium` it finds there (even
  // another version's): give it an empty private directory, then move it into place, so
  // that concurrent test runs never see a half-unpacked browser.
  mkdirSync(cache, { recursive: true });
  const scratch = mkdtempSync(join(cache, 'unpack-'));
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = scratch;
  try {
    const { default: Chromium } = (await import('@sparticuz/chromium')) as {
      default: { executablePath(): Promise<string> };
    };
    await Chromium.executablePath();
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
  try {
    renameSync(scratch, target);
  } catch {
    rmSync(scratch, { recursive: true, force: true }); // another run got there first
  }
  return join(target, 'chromium');
}

function nodeHost(): BrowserHost {
  return { platform: process.platform, arch: process.arch, env: process.env, exists: existsSync, npmChromium: unpackNpmChromium };
}

/**
 * Flags for a headless Chromium on a machine with no network: nothing reaches out
 * (background networking, component updates, sync), no sandbox (tests run as root).
 * Not @sparticuz/chromium's own flag list: it turns off site isolation and web security,
 * and with them the page's crossOriginIsolated.
 */
export const BROWSER_ARGS = [
  '--headless=shell',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

export type FoundBrowser = { path: string } | { error: string };

/** Launch the browser global_setup.ts found (`inject('browser')`); fails, never skips, with its one-line reason. */
export async function launchBrowser(found: FoundBrowser): Promise<Browser> {
  if ('error' in found) throw new Error(found.error);
  return chromium.launch({ executablePath: found.path, headless: true, args: BROWSER_ARGS });
}

declare module 'vitest' {
  export interface ProvidedContext {
    browser: FoundBrowser;
  }
}

/** Pixels of `color` (#rrggbb, within a small tolerance for antialiasing) in the canvas matching `selector`. */
export const inked = (page: Page, selector: string, color: string): Promise<number> =>
  page.$eval(
    selector,
    (c, hex) => {
      const canvas = c as HTMLCanvasElement;
      const px = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      let n = 0;
      for (let i = 0; i < px.length; i += 4)
        if (px[i + 3] > 200 && Math.abs(px[i] - r) < 12 && Math.abs(px[i + 1] - g) < 12 && Math.abs(px[i + 2] - b) < 12) n++;
      return n;
    },
    color,
  );

/** Push the page's console errors and uncaught exceptions onto `errors` (a test asserts it stays empty). */
export function recordPageErrors(page: Page, errors: string[]): void {
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
}

/**
 * Load `schedule` in the viewer (src/view/page.ts) and wait until the page shows it. Its
 * outcome line is cleared first and awaited: show() writes it in the same task as the
 * selectors and the schedule field, while a page still showing another schedule at step
 * -1 would satisfy a wait on the step or on the field the test itself just filled.
 */
export async function loadSchedule(page: Page, schedule: string): Promise<void> {
  await page.evaluate(() => {
    (document.getElementById('outcome') as HTMLElement).textContent = '';
  });
  await page.fill('#schedule', schedule);
  await page.click('#load');
  await page.waitForFunction(() => document.getElementById('outcome')?.textContent !== '');
  await page.waitForFunction((s) => (document.getElementById('schedule') as HTMLInputElement).value === s, schedule);
  await page.waitForSelector('#step[data-step="-1"]');
}

/**
 * Press the step-forward button by its click handler, in one round trip. Playwright's
 * click() first checks that the button is visible, stable and not covered (several round
 * trips, about 45 ms of CPU a step); a test stepping through a hundred steps presses it
 * with click() once and then this way.
 */
export const pressForward = (page: Page): Promise<void> =>
  page.evaluate(() => (document.getElementById('forward') as HTMLButtonElement).click());

/**
 * `slabsim view --port 0 ...args` of the compiled CLI (test/built.ts), as an installed
 * package serves the page; its child, the line it printed first and the URL in it.
 */
export async function startView(...args: string[]): Promise<{ child: ChildProcess; startLine: string; url: string }> {
  const child = spawn(process.execPath, [builtBin(builtDir(inject('built'))), 'view', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const startLine = await firstLine(child);
  return { child, startLine, url: /(http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(startLine)?.[1] ?? '' };
}
