// Starts a TypeScript worker from source (tests, `tsx` runs): Node 20 will not load a
// .ts file as a worker, so this .mjs registers tsx first, then imports the worker module
// named by the pool's workerData.entry (default ./cpu.ts). Built runs use dist/workers/*.js.
import { workerData } from 'piscina';
import { register } from 'tsx/esm/api';

register();
globalThis[Symbol.for('slabsim.tsx')] = true; // src/cli/loader.ts: tsx is registered already
const mod = await import(new URL(workerData?.entry ?? './cpu.ts', import.meta.url).href);
export default mod.default;
