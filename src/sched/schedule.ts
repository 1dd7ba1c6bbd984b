// A schedule is the list of choices the strategy made at each decision point (a step
// where two or more CPUs could move). Forced steps are not recorded: replaying the
// choices under the same program reproduces the run exactly.
//
// Text form, versioned: `s1.<cpus>.<runs>` where runs are run-length encoded choices,
// each a CPU letter (a-z = 0..25, A-Z = 26..51) followed by a repeat count when > 1.
// Example: `s1.3.a4bca2` = choices 0,0,0,0,1,2,0,0 on 3 CPUs.
import { SlabError } from '../errors.js';

export const SCHEDULE_VERSION = 's1';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const MAX_SCHEDULED_CPUS = ALPHABET.length;

export function encodeSchedule(cpus: number, choices: readonly number[]): string {
  let out = `${SCHEDULE_VERSION}.${cpus}.`;
  for (let i = 0; i < choices.length;) {
    let j = i;
    while (j < choices.length && choices[j] === choices[i]) j++;
    out += ALPHABET[choices[i]] + (j - i > 1 ? String(j - i) : '');
    i = j;
  }
  return out;
}

export function decodeSchedule(text: string): { cpus: number; choices: number[] } {
  const m = /^s1\.(\d+)\.([a-zA-Z0-9]*)$/.exec(text.trim());
  if (!m) {
    throw new SlabError('EINVAL', `schedule '${text}': expected '${SCHEDULE_VERSION}.<cpus>.<choices>' (e.g. s1.3.a4bca2)`);
  }
  const cpus = Number(m[1]);
  const choices: number[] = [];
  const re = /([a-zA-Z])(\d*)/g;
  for (let t = re.exec(m[2]); t !== null; t = re.exec(m[2])) {
    const cpu = ALPHABET.indexOf(t[1]);
    if (cpu >= cpus) throw new SlabError('EINVAL', `schedule '${text}': CPU '${t[1]}' (${cpu}) but only ${cpus} CPUs`);
    const n = t[2] === '' ? 1 : Number(t[2]);
    for (let k = 0; k < n; k++) choices.push(cpu);
  }
  return { cpus, choices };
}
