import type { ExploreReport } from '../race/explore.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JUnit XML for CI: one testcase per scenario and profile, a failure with its replay line. */
export function junitXml(r: ExploreReport): string {
  const cases = r.models.map((m) => {
    const name = `${m.model} (${m.profile})`;
    const time = (r.elapsed_ms / 1000 / Math.max(r.models.length, 1)).toFixed(3);
    const body = m.failure
      ? `\n      <failure message="${esc(m.failure.messages[0] ?? 'failed')}">${esc(`${m.failure.messages.join('\n')}\nschedule: ${m.failure.shrunk}\n${m.failure.replay}`)}</failure>\n    `
      : '';
    return `    <testcase classname="slabsim.race" name="${esc(name)}" time="${time}">${body}</testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="slabsim race (${esc(r.strategy)}, seed ${r.seed}, shard ${esc(r.shard)})" tests="${r.models.length}" failures="${r.failures}" time="${(r.elapsed_ms / 1000).toFixed(3)}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}
