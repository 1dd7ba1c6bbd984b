import { addrByte, type Machine } from '../../shm/machine.js';

/**
 * Constructors a cache may name (kmem_cache_create's ctor). JavaScript functions cannot
 * live in the shared buffer, so a cache stores the index + 1 of one of these, and every
 * thread runs the same code.
 */
export const CTORS: ReadonlyArray<{ name: string; fn: (m: Machine, obj: number, size: number) => void }> = [
  {
    name: 'zero',
    fn: (m, obj, size) => m.u8.fill(0, addrByte(m, obj), addrByte(m, obj) + size),
  },
  {
    name: 'cookie',
    fn: (m, obj, size) => m.u8.fill(0xc5, addrByte(m, obj), addrByte(m, obj) + size),
  },
];

export const ctorId = (name: string): number => CTORS.findIndex((c) => c.name === name) + 1;
