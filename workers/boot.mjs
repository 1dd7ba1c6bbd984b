// Starts a TypeScript worker from source (tests, `tsx` runs): Node 20 will not load a
// .ts file as a worker, so this .mjs registers tsx first. Built runs use dist/workers/*.js.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./cpu.ts');
export default mod.default;
