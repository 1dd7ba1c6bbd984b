// Runs once per vitest invocation, before any test file: finds (and on Linux x64
// unpacks) the browser of the browser tests, so that test files never unpack it twice
// at once, and compiles the CLI for the tests that spawn it (test/built.ts). A browser
// failure is handed on, not thrown: the browser tests fail with it, the others run.
import type { TestProject } from 'vitest/node';
import { resolveBrowser } from './browser.js';
import { buildForTests, removeBuild } from './built.js';

export default async function setup(project: TestProject): Promise<() => void> {
  try {
    project.provide('browser', { path: await resolveBrowser() });
  } catch (e) {
    project.provide('browser', { error: (e as Error).message });
  }
  const built = await buildForTests();
  project.provide('built', built);
  return () => removeBuild(built);
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** the directory of the compiled CLI (test/built.ts) */
    built: string;
  }
}
