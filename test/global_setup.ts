// Runs once per vitest invocation, before any test file: finds (and on Linux x64
// unpacks) the browser of the browser tests, so that test files never unpack it twice
// at once, and compiles the sources for the tests that spawn the CLI or worker threads
// (test/built.ts). A failure of either is handed on, not thrown: the tests that need it
// fail with it, the others run.
import type { TestProject } from 'vitest/node';
import { resolveBrowser } from './browser.js';
import { buildForTests, type FoundBuild, removeBuild } from './built.js';

export default async function setup(project: TestProject): Promise<() => void> {
  // Both at once: the unpacking waits on zlib's threads, the compiling on esbuild's process.
  const [browser, built] = await Promise.allSettled([resolveBrowser(), buildForTests()]);
  project.provide('browser', browser.status === 'fulfilled' ? { path: browser.value } : { error: message(browser.reason) });
  project.provide('built', built.status === 'fulfilled' ? { dir: built.value } : { error: message(built.reason) });
  return () => {
    if (built.status === 'fulfilled') removeBuild(built.value);
  };
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

declare module 'vitest' {
  export interface ProvidedContext {
    /** the compiled sources (test/built.ts) */
    built: FoundBuild;
  }
}
