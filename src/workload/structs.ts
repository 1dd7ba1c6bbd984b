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
    closed: 'u32', // 0 while producing; count + 1 once a timed run's producer has stopped
    pad2: ['u32', 30],
    slots: ['u32', RING_SLOTS],
  },
  128,
);

/**
 * The generation barrier of larson's hand-offs: arrivals, and the epoch after which a
 * timed run stops (0: not yet), written by any CPU that saw the stop word before its
 * arrival, so every CPU reads the same decision once all have arrived.
 */
export const BARRIER = defineStruct('BARRIER', { arrived: 'u32', stopAfter: 'u32' }, 128);

/** mstress: slots of the shared transfer array. */
export const TRANSFER_SLOTS = 64;

/** connections: objects per connection, uniformly in this range. */
export const CONNECTION_OBJECTS: readonly [number, number] = [10, 100];
