// --memory-model on the command line: race finds what only a weaker mode produces, prints
// a v2 schedule that replays (with store buffers, flushes and stale reads in --trace);
// bad input is one line and exit 2.
import { describe, expect, it } from 'vitest';
import { cli } from './helpers.js';

const MODEL = 'test/fixtures/store_buffer.model.ts';

describe('slabsim race and replay --memory-model', () => {
  it('finds store buffering under tso, not under sc; the shrunk v2 schedule replays with its buffers', () => {
    const sc = cli('race', '--model', MODEL, '--runs', '300');
    expect(sc.status).toBe(0);
    const r = cli('race', '--model', MODEL, '--memory-model', 'tso', '--runs', '500');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^store-buffer \(memory model tso\): \d+ runs, \d+ steps, FAILED$/m);
    const shrunk = /shrunk \(\d+ -> \d+ preemptions\): (v2:store-buffer:-:none:\d+:tso:\S+)/.exec(r.stdout)?.[1] ?? '';
    expect(shrunk).not.toBe('');
    const again = cli('replay', shrunk, '--model', MODEL, '--trace');
    expect(again.status).toBe(1);
    expect(again.stdout).toMatch(/store \[\d+\] 0x1 \(buffered\)/);
    expect(again.stdout).toMatch(/^ {9}buffers: CPU\d \[\d+\]=0x1/m);
    expect(again.stdout).toMatch(/^store-buffer \(seed \d+, memory model tso\): \d+ steps, FAILED$/m);
    expect(again.stdout).toMatch(/both CPUs read 0/);
    // a schedule replays only in its own mode
    const other = cli('replay', shrunk, '--model', MODEL, '--memory-model', 'arm');
    expect(other.status).toBe(2);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
    expect(other.stderr).toMatch(/names memory model tso, not arm/);
  });

  it('every execution under arm (dfs, no bound) finds it too', () => {
    const r = cli('race', '--model', MODEL, '--memory-model', 'arm', '--strategy', 'dfs', '--preemption-bound', 'none');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/with no preemption bound/);
    expect(r.stdout).toMatch(/v2:store-buffer:-:none:1:arm:/);
  });

  it('bad input: an unknown mode, a primitive the mode lacks: one line, exit 2', () => {
    const bogus = cli('race', '--model', MODEL, '--memory-model', 'bogus');
    expect(bogus.status).toBe(2);
    expect(bogus.stderr.trim()).toMatch(
      /^error: option '--memory-model <m>' argument 'bogus' is invalid\. expected one of sc, tso, arm, js$/,
    );
    const js = cli('race', '--model', MODEL, '--export', 'acquire', '--memory-model', 'js', '--runs', '5');
    expect(js.status).toBe(2);
    expect(js.stderr.trim().split('\n')).toHaveLength(1);
    expect(js.stderr).toMatch(/loadAcquire32 does not exist under memory model js/);
    expect(js.stdout).toBe('');
  });
});
