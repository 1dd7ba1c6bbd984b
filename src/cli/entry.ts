// The entry of the CLI as one file (scripts/bundle_cli.mjs makes dist/src/cli/slabsim.js
// of it; bin/slabsim.mjs imports that and calls main()). It also exports slabsim's public
// API: a model file that the bundled CLI loads gets `slabsim` from this same file
// (src/cli/loader.ts), so that its primitives and the CLI's scheduler are one copy.
export { main } from './main.js';
export * from '../index.js';
