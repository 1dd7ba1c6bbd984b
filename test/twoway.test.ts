import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as fast from '../src/mm/page_alloc.fast.js';
import * as sched from '../src/mm/page_alloc.js';
import { tempDir } from './temp.js';

describe('two-way modules', () => {
  it('every fast twin is current with its source', () => {
    expect(() => execFileSync(process.execPath, ['scripts/twoway.mjs', '--check'], { encoding: 'utf8' })).not.toThrow();
  });

  it('the fast twin has no generators and no yields, and uses the free primitives', () => {
    const text = readFileSync('src/mm/page_alloc.fast.ts', 'utf8');
    expect(text).not.toMatch(/function\s*\*/);
    expect(text).not.toMatch(/\byield\b/);
    expect(text).toContain("from '../shm/atomic.fast.js'");
    expect(fast.allocPages.constructor.name).toBe('Function');
    expect(sched.allocPages.constructor.name).toBe('GeneratorFunction');
  });

  it('the scheduled twin writes every primitive inline: no yield* into atomic.js or irqPoint, the yields kept', () => {
    for (const file of ['src/mm/slub/alloc.sched.ts', 'src/mm/slub/free.sched.ts', 'src/mm/page_alloc.sched.ts']) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/yield\* (load32|store32|cas32|cas64\w*|spinLock|spinUnlock|spinTrylock|irqPoint)\(/);
      expect(text, file).toMatch(/\$schedBus\.op = \d+, \$schedBus\.word = [^,]+(, \$schedBus\.arg = [^,]+)?\), yield \w+, /);
      expect(text, file).toMatch(/function\s*\*/);
    }
    expect(readFileSync('src/mm/slub/alloc.sched.ts', 'utf8')).toContain("from './freeptr.sched.js'");
    expect(sched.allocPages.constructor.name).toBe('GeneratorFunction');
  });

  it('writes the codes of src/sched/event.ts into the inline forms', async () => {
    // @ts-expect-error: a plain .mjs script without types
    const tw = await import('../scripts/twoway.mjs');
    const event = await import('../src/sched/event.js');
    for (const [k, v] of Object.entries(tw.OP)) expect(event.OP[k as keyof typeof event.OP], k).toBe(v);
    expect(tw.LOAD).toEqual(event.LOAD);
    expect(tw.ORDER).toEqual(event.ORDER);
    expect(tw.EV).toEqual({ READ: event.EV.READ, WRITE: event.EV.WRITE });
  });

  it('refuses a yield that is not a statement of its own', () => {
    const dir = tempDir('twoway-');
    writeFileSync(`${dir}/bad.ts`, '/* @two-way */\nexport function* f(): Step<number> { const x = yield 1; return 0; }\n');
    // The script only scans src/, so exercise its transform through a copy of the tree.
    expect(() =>
      execFileSync(
        process.execPath,
        ['-e', `import('${process.cwd()}/scripts/twoway.mjs').then(m => m.transformFile('${dir}/bad.ts'))`],
        {
          encoding: 'utf8',
          stdio: 'pipe',
        },
      ),
    ).toThrow(/must be a statement of its own/);
  });
});
