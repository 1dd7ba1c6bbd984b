// Harness structures that live in simulated memory (pages the harness takes from the
// page allocator before the run and gives back after it): the only offsets they need.
import { defineStruct } from '../shm/struct.js';

/** Slots of one xmalloc ring (a power of two). */
export const RING_SLOTS = 1024;

/**
 * A single-producer single-consumer ring of object addresses: CPU i-1 pushes, CPU i
 * pops. head and tail only grow (mod 2^32): 0 <= tail - head <= RING_SLOTS.
 */
export const RING = defineStruct(
  'RING',
  {
    head: 'u32', // written by the consumer only
    pad: ['u32', 31], // keep the two indices on different cache lines
    tail: 'u32', // written by the producer only
    pad2: ['u32', 31],
    slots: ['u32', RING_SLOTS],
  },
  128,
);

/** The generation barrier of larson's hand-offs: one word, counting arrivals. */
export const BARRIER = defineStruct('BARRIER', { arrived: 'u32' }, 128);

/** mstress: slots of the shared transfer array. */
export const TRANSFER_SLOTS = 64;

/** connections: objects per connection, uniformly in this range. */
export const CONNECTION_OBJECTS: readonly [number, number] = [10, 100];
