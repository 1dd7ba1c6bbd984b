// Plain helpers shared by the pool models (no schedule points: callers own the memory
// or hold the lock that protects it).
import { SlabError } from '../../errors.js';
import { addrByte, type Machine, validAddr } from '../../shm/machine.js';

export const hex = (x: number): string => `0x${(x >>> 0).toString(16)}`;

/** strlcpy(dst, s, bytes): at most bytes - 1 bytes of UTF-8 and a NUL (the rest zeroed). */
export function writeCString(m: Machine, addr: number, bytes: number, s: string): void {
  const enc = new TextEncoder().encode(s).subarray(0, bytes - 1);
  const at = addrByte(m, addr);
  m.u8.fill(0, at, at + bytes);
  m.u8.set(enc, at);
}

export function readCString(m: Machine, addr: number, bytes: number): string {
  const at = addrByte(m, addr);
  const raw = m.u8.slice(at, at + bytes);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(raw.subarray(0, end < 0 ? bytes : end));
}

/** A byte count or size argument: a non-negative integer, else EINVAL naming the call. */
export function checkSize(what: string, name: string, v: number, min = 0): void {
  if (!Number.isInteger(v) || v < min) {
    throw new SlabError('EINVAL', `${what}: ${name} = ${String(v)}: expected an integer >= ${min}`);
  }
}

/** CPU id in range, else EINVAL. */
export function checkCpuId(m: Machine, what: string, cpu: number): void {
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= m.cfg.cpus) {
    throw new SlabError('EINVAL', `${what}: cpu ${String(cpu)} out of range (expected 0..${m.cfg.cpus - 1})`);
  }
}

/** An address argument that must lie in simulated memory (not NULL), else `code`. */
export function checkAddr(m: Machine, what: string, addr: number, code: 'EINVAL' | 'EBADFREE' = 'EINVAL'): void {
  if (!validAddr(m, addr) || addr % 4 !== 0) {
    throw new SlabError(code, `${what}: ${hex(addr)} is not an address in simulated memory`);
  }
}

/** Result of every model's validate(): one message per broken equation. */
export interface ValidateResult {
  errors: number;
  messages: string[];
}

export const result = (messages: string[]): ValidateResult => ({ errors: messages.length, messages });
