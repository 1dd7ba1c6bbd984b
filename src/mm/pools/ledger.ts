// The ownership check of the pool workloads: which CPU holds which byte range. Every
// allocation is taken into the ledger and every free given back, so a range handed out
// while another live range overlaps it (a block handed out twice, a rewound block still
// in use) or a free by a CPU that does not hold the range is counted. Thread-local: it
// serves scheduled runs, where every simulated CPU runs on this thread.

interface Held {
  addr: number;
  size: number;
  cpu: number;
}

export class Ledger {
  private readonly live = new Map<number, Held>();
  /** allocations that overlapped a live one: handed out twice */
  doubleIssue = 0;
  /** frees of a range the CPU did not hold */
  badFree = 0;
  readonly problems: string[] = [];

  /** Record an allocation; false (and counted) if it overlaps a live one. */
  take(addr: number, size: number, cpu: number): boolean {
    const end = addr + Math.max(size, 1);
    for (const h of this.live.values()) {
      if (addr < h.addr + Math.max(h.size, 1) && h.addr < end) {
        this.doubleIssue++;
        this.note(`CPU${cpu} got 0x${addr.toString(16)}+${size} while CPU${h.cpu} holds 0x${h.addr.toString(16)}+${h.size}`);
        return false;
      }
    }
    this.live.set(addr, { addr, size, cpu });
    return true;
  }

  /** Record a free; false (and counted) if `cpu` did not hold `addr`. */
  give(addr: number, cpu: number): boolean {
    const h = this.live.get(addr);
    if (h === undefined || h.cpu !== cpu) {
      this.badFree++;
      this.note(`CPU${cpu} freed 0x${addr.toString(16)}, held by ${h === undefined ? 'nobody' : `CPU${h.cpu}`}`);
      return false;
    }
    this.live.delete(addr);
    return true;
  }

  /** Forget every range `cpu` holds (its pool was reset or destroyed). */
  dropAll(cpu: number): void {
    for (const [a, h] of this.live) if (h.cpu === cpu) this.live.delete(a);
  }

  held(cpu?: number): number {
    let n = 0;
    for (const h of this.live.values()) if (cpu === undefined || h.cpu === cpu) n++;
    return n;
  }

  get broken(): boolean {
    return this.doubleIssue + this.badFree > 0;
  }

  private note(s: string): void {
    if (this.problems.length < 20) this.problems.push(s);
  }
}
