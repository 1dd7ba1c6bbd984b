// Runs once per vitest invocation, before any test file: finds (and on Linux x64
// unpacks) the browser of the browser tests, so that test files never unpack it twice
// at once, and compiles the sources for the tests that spawn the CLI or worker threads
// (test/built.ts). A failure of either is handed on, not thrown: the tests that need it
// fail with it, the others run.
import type { TestProject } from 'vitest/node';
import { resolveBrowser } from './browser.js';
import { buildForTests, type FoundBuild, removeBuild } from './built.js';

export default async function setup(project: TestProject): Promise<() => void> {
  try {
    project.provide('browser', { path: await resolveBrowser() });
  } catch (e) {
    project.provide('browser', { error: (e as Error).message });
  }
  let dir: string | undefined;
  try {
    dir = await buildForTests();
    project.provide('built', { dir });
  } catch (e) {
    project.provide('built', { error: (e as Error).message });
  }
  return () => {
    if (dir) removeBuild(dir);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** the compiled sources (test/built.ts) */
    built: FoundBuild;
  }
}
