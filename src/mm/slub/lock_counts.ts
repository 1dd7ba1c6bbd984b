// Lock acquisitions made on this thread, for the per-operation columns of
// `slabsim compare`: read after a worker's run, where one thread is one CPU (under the
// scheduler every CPU shares the thread, and nobody reads them).
export const lockCounts = { listLock: 0, barnLock: 0 };
