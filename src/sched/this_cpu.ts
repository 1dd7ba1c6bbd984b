// smp_processor_id(): the simulated CPU the code on this thread of control runs as.
// A worker sets it once for its CPU; the scheduler sets it before every step it lets a
// CPU make. -1 on the main thread (machine setup, harness memory, code a test calls
// directly): that code is no CPU, so the page allocator sends it to the zones and never
// to a CPU's per-CPU lists (this_cpu_ptr() has nothing to point at).
export const thisCpu = { id: -1 };
