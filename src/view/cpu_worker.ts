// A CPU of the viewer's live mode, in a Web Worker: the same entry as a stress CPU on a
// worker thread (workers/cpu.ts: attach, take a CPU id, start barrier, the free-running
// program), driven through comlink. Pausing and the interrupt rate go through words of
// the machine that the program reads between operations, not through messages: this
// worker's thread is busy in the program until it ends.
import { expose } from 'comlink';
import runCpu from '../../workers/cpu.js';
import type { CpuApi } from './protocol.js';

const api: CpuApi = { run: runCpu };
expose(api);
