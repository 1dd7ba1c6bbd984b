// A schedule is the list of choices the strategy made at each decision point (a step
// where two or more CPUs could move). Forced steps are not recorded: replaying the
// choices under the same program reproduces the run exactly.
//
// Text form, versioned: `s1.<cpus>.<runs>` where runs are run-length encoded choices,
// each a CPU letter (a-z = 0..25, A-Z = 26..51) followed by a repeat count when > 1.
// Example: `s1.3.a4bca2` = choices 0,0,0,0,1,2,0,0 on 3 CPUs.
import { SlabError } from '../errors.js';

// In the weaker memory modes a choice is a *token* (docs/architecture.md, "The event
// record"): an action id (< cpus: that CPU's step; cpus·(1 + j) + c: a flush of the j-th
// flushable store of CPU c), or a CPU's step whose load reads the i-th newest of its
// readable values (i >= 1), written -(1 + cpu + cpus·(i - 1)). Under sc every token is a
// CPU id, as always.

/** The token of `cpu`'s step reading the `read`-th newest value (0: the CPU id itself). */
export const readToken = (cpu: number, read: number, cpus: number): number => (read === 0 ? cpu : -(1 + cpu + cpus * (read - 1)));
/** The action of a token: a CPU id or a flush action. */
export const tokenAction = (t: number, cpus: number): number => (t >= 0 ? t : (-t - 1) % cpus);
/** The read choice of a token (0 for a plain CPU step or a flush). */
export const tokenRead = (t: number, cpus: number): number => (t >= 0 ? 0 : Math.floor((-t - 1) / cpus) + 1);

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

/**
 * The choices of a v2 schedule string: per token a CPU letter (its step), the letter and
 * `~i` (its load reads the i-th newest value), `+` and a letter (a flush of that CPU's
 * oldest flushable store), `+` a letter `.j` (its j-th); then a repeat count, written
 * after `*` when the token ends in a number (`a~1*3`), else directly (`a4`, `+b2`).
 */
export function encodeTokens(cpus: number, tokens: readonly number[]): string {
  let out = '';
  for (let i = 0; i < tokens.length;) {
    let j = i;
    while (j < tokens.length && tokens[j] === tokens[i]) j++;
    const t = tokens[i];
    const a = tokenAction(t, cpus);
    const read = tokenRead(t, cpus);
    let tok: string;
    let indexed = false;
    if (a >= cpus) {
      const at = Math.floor(a / cpus) - 1;
      tok = `+${ALPHABET[a % cpus]}${at > 0 ? `.${at}` : ''}`;
      indexed = at > 0;
    } else {
      tok = `${ALPHABET[a]}${read > 0 ? `~${read}` : ''}`;
      indexed = read > 0;
    }
    out += j - i > 1 ? `${tok}${indexed ? '*' : ''}${j - i}` : tok;
    i = j;
  }
  return out;
}

/** The tokens of encodeTokens' text; `where` names the schedule in errors. */
export function decodeTokens(cpus: number, text: string, where: string): number[] {
  const tokens: number[] = [];
  const re = /(\+?)([a-zA-Z])(?:([~.])(\d+)(?:\*(\d+))?|(\d+))?/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const t = re.exec(text);
    if (!t) throw new SlabError('EINVAL', `schedule '${where}': cannot read its choices at '${text.slice(at, at + 12)}'`);
    at = re.lastIndex;
    const [, plus, letter, mark, index, starCount, count] = t;
    const cpu = ALPHABET.indexOf(letter);
    if (cpu >= cpus) throw new SlabError('EINVAL', `schedule '${where}': CPU '${letter}' (${cpu}) but only ${cpus} CPUs`);
    if ((plus && mark === '~') || (!plus && mark === '.'))
      throw new SlabError('EINVAL', `schedule '${where}': '${t[0]}': a flush takes '.j', a CPU step '~i'`);
    const i = index === undefined ? 0 : Number(index);
    const token = plus ? cpus * (1 + i) + cpu : readToken(cpu, i, cpus);
    const n = Number(starCount ?? count ?? 1);
    for (let k = 0; k < n; k++) tokens.push(token);
  }
  return tokens;
}
