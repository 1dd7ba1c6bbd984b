// Runs once per vitest invocation, before any test file: finds (and on Linux x64
// unpacks) the browser of the browser tests, so that test files never unpack it twice
// at once. A failure is handed on, not thrown: the browser tests fail with it, the
// others run.
import type { TestProject } from 'vitest/node';
import { resolveBrowser } from './browser.js';

export default async function setup(project: TestProject): Promise<void> {
  try {
    project.provide('browser', { path: await resolveBrowser() });
  } catch (e) {
    project.provide('browser', { error: (e as Error).message });
  }
}
