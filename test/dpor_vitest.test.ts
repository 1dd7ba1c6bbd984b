// raceTest and the assertions with strategy 'dpor': a pass means every interleaving was
// explored with no failure, and says how many traces; a search cut short by its runs or
// budget fails with what it covered, unless the test allows a partial search.
import { describe, expect, it } from 'vitest';
import { assertNoRace, assertRace, dporCovered, raceTest } from 'slabsim/vitest';
import { adders, lostUpdate } from './fixtures/dpor.model.js';
import { shell } from './helpers.js';

raceTest('raceTest with dpor: three CPUs adding to one word, every interleaving', adders, { strategy: 'dpor' });

describe('dpor in the race assertions', () => {
  it('no failure in every interleaving: the report says how many traces', async () => {
    const report = await assertNoRace(adders, { strategy: 'dpor' });
    expect(dporCovered(report)).toBe('every interleaving (90 traces)');
    const bounded = await assertNoRace(adders, { strategy: 'dpor', preemptionBound: 1 });
    expect(dporCovered(bounded)).toMatch(/^every interleaving within 1 preemptions \(\d+ executions\)$/);
  });

  it('a search its runs cut short fails with what it covered, unless a partial search is allowed', async () => {
    await expect(assertNoRace(adders, { strategy: 'dpor', runs: 10 })).rejects.toThrow(
      /^dpor did not explore every interleaving of model 'dpor-adders' before its runs or budget ran out: 10 complete executions \(0 blocked, 0 sleep-blocked\) in 10 runs, none failed\. Give it more runs or a longer budget, or allow a partial search \(allowPartial: true\)$/,
    );
    const partial = await assertNoRace(adders, { strategy: 'dpor', runs: 10, allowPartial: true });
    expect(partial.models[0].dpor).toMatchObject({ complete: 10, exhausted: false });
    expect(dporCovered(partial)).toBeNull();
  });

  it('a failure is found, shrunk, and replayed by the command it prints', async () => {
    const err = (await assertNoRace(lostUpdate, { strategy: 'dpor' }).catch((e: Error) => e)) as Error;
    expect(err.name).toBe('RaceFoundError');
    expect(err.message).toMatch(/^race found in model 'dpor-lost-update': the word is 1 after two increments$/m);
    const command = /^ {2}replay: (.*)$/m.exec(err.message)?.[1] ?? '';
    expect(command).toMatch(
      /^npx slabsim replay 'v1:dpor-lost-update:\S+' --model \.\/test\/fixtures\/dpor\.model\.ts --export lostUpdate --trace$/,
    );
    const r = shell(command);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('the word is 1 after two increments');
  });

  it('a race expected where dpor explored every interleaving and found none says so', async () => {
    await expect(assertRace(adders, { strategy: 'dpor' })).rejects.toThrow(
      /^expected a race in dpor-adders, but dpor explored every interleaving \(90 traces\) and found none$/,
    );
  });
});
