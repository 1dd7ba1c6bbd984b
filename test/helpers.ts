import { createHash } from 'node:crypto';
import type { Machine } from '../src/shm/machine.js';

/** A digest of the whole machine: equal digests mean bit-identical state. */
export const digest = (m: Machine): string => createHash('sha256').update(m.u8).digest('hex');
