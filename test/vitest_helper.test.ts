// slabsim/vitest: race tests in a few lines. A failure carries the violated check, the
// shrunk schedule and the command that replays it (which does); a race expected and not
// found fails too.
import { describe, expect, it } from 'vitest';
import { assertNoRace, assertRace, expectRace, raceTest } from 'slabsim/vitest';
import ring, { publishEarly } from './fixtures/ring.model.js';
import { shell } from './helpers.js';
import { npxReplayCommand } from '../src/race/api.js';

raceTest('raceTest: the Vyukov ring holds', ring, { runs: 300, strategy: 'pct' });
expectRace('expectRace: publishing a cell before its value is found', publishEarly, { runs: 2000, strategy: 'pct' });

describe('what a failing race test says', () => {
  it('the violated check, the shrunk schedule and the command that replays it', async () => {
    const err = await assertNoRace(publishEarly, { runs: 2000, strategy: 'pct' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect((err as Error).name).toBe('RaceFoundError');
    expect(msg).toMatch(/^race found in model 'vyukov-ring-publish-early': a consumer took 0, which no producer sent$/m);
    const schedule = /shrunk schedule \(\d+ -> \d+ preemptions\): (\S+)$/m.exec(msg)?.[1];
    expect(schedule).toMatch(/^v1:vyukov-ring-publish-early:-:none:\d+:\w+$/);
    const command = /^ {2}replay: (.*)$/m.exec(msg)?.[1];
    expect(command).toBe(`npx slabsim replay '${schedule}' --model ./test/fixtures/ring.model.ts --export publishEarly --trace`);
    // the command, run as printed, replays it: exit 1 with the same violation
    const r = shell(command as string);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('a consumer took 0, which no producer sent');
  });

  it('a model whose export the helper cannot name still replays by the printed command: replay finds the export', async () => {
    const err = await assertNoRace(publishEarly, { runs: 2000, strategy: 'pct', replayCommand: npxReplayCommand }).catch(
      (e: Error) => e,
    );
    const command = /^ {2}replay: (.*)$/m.exec((err as Error).message)?.[1];
    expect(command).toMatch(/^npx slabsim replay '\S+' --model \.\/test\/fixtures\/ring\.model\.ts --trace$/);
    const r = shell(command as string);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('a consumer took 0, which no producer sent');
  });

  it('a race expected in a correct model is a failure that says how hard it looked', async () => {
    await expect(assertRace(ring, { runs: 50, seed: 9 })).rejects.toThrow(
      /^expected a race in vyukov-ring, but 50 runs \(strategy random, seed 9, \d+ steps\) found none$/,
    );
  });
});
