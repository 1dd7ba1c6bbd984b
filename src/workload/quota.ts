/** CPU `cpu`'s share of `total` operations: as even as possible, the first ones get the rest. */
export const quota = (total: number, cpus: number, cpu: number): number =>
  Math.floor(total / cpus) + (cpu < total % cpus ? 1 : 0);

/** The same in alloc/free pairs: an even share of `total`; an odd last operation is dropped. */
export const pairQuota = (total: number, cpus: number, cpu: number): number => 2 * quota(Math.floor(total / 2), cpus, cpu);
