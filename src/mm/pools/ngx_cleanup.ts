// The cleanup handlers an nginx pool can run on destroy: a registry of named plain
// functions, since a function pointer cannot live in shared memory. `c->handler` holds
// the handler's id (0: NULL). Ids are given in registration order on each thread, so a
// pool's handlers must be registered on the thread that destroys it (nginx and
// per-connection pools are owned by one CPU).
import { SlabError } from '../../errors.js';
import { addrWord, type Machine } from '../../shm/machine.js';

/** ngx_pool_cleanup_pt: runs with the machine and the cleanup's data address. */
export type NgxCleanupHandler = (m: Machine, data: number) => void;

const handlers: NgxCleanupHandler[] = [];
const names: string[] = [];
const ids = new Map<string, number>();

/** Register (or replace) the handler called `name`; returns its id (>= 1). */
export function registerNgxCleanup(name: string, fn: NgxCleanupHandler): number {
  let id = ids.get(name);
  if (id === undefined) {
    handlers.push(fn);
    names.push(name);
    id = handlers.length;
    ids.set(name, id);
  } else {
    handlers[id - 1] = fn;
  }
  return id;
}

/** The id of a registered handler; EINVAL when none has that name. */
export function ngxCleanupId(name: string): number {
  const id = ids.get(name);
  if (id === undefined) throw new SlabError('EINVAL', `ngx_pool_cleanup_add: no cleanup handler named ${name}`);
  return id;
}

export const ngxCleanupHandler = (id: number): NgxCleanupHandler | undefined => handlers[id - 1];
export const ngxCleanupName = (id: number): string | undefined => names[id - 1];

/** NGX_INVALID_FILE */
export const NGX_INVALID_FILE = 0xffffffff;

/**
 * ngx_pool_cleanup_file(): data is an ngx_pool_cleanup_file_t whose first word is the fd;
 * "closing" it stores NGX_INVALID_FILE there and records the fd in `closedFiles`.
 */
export const closedFiles: number[] = [];
registerNgxCleanup('ngx_pool_cleanup_file', (m, data) => {
  const w = addrWord(m, data);
  closedFiles.push(m.u32[w]);
  m.u32[w] = NGX_INVALID_FILE;
});
