// `slabsim run --spec FILE.json`: the run's options from a file. The file's keys are the
// command's own long option names (`"cpus": 4`, `"irq-rate": 0.01`, `"size": "16-256"`).
// zod checks the file's shape (an object of known keys with scalar values); each value
// then goes through the very parser its command-line option uses, so ranges and
// messages are the same in both places. Options given on the command line win.
import type { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OutputError } from './output.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** The options of `cmd` set by the spec file, by attribute name, parsed and checked. */
export function loadSpec(file: string, cmd: Command): Record<string, unknown> {
  const fail = (what: string): OutputError => new OutputError(`spec file ${file}: ${what}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fail(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(`is not JSON: ${(e as Error).message}`);
  }
  const options = cmd.options.filter((o) => o.long && o.long !== '--spec');
  const names = options.map((o) => (o.long as string).slice(2));
  const schema = z.object(Object.fromEntries(names.map((n) => [n, scalar.optional()]))).strict();
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw fail(describeIssue(parsed.error.issues[0], names));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed.data)) {
    if (value === undefined) continue;
    const opt = options.find((o) => o.long === `--${key}`) as Option;
    const parsed = parseValue(opt, key, value, fail);
    // "no-pcp": true sets the attribute `pcp` to false, as the flag does.
    out[opt.attributeName()] = opt.negate ? !parsed : parsed;
  }
  return out;
}

function parseValue(opt: Option, key: string, value: string | number | boolean, fail: (what: string) => OutputError): unknown {
  if (opt.isBoolean() || opt.negate) {
    if (typeof value !== 'boolean') throw fail(`'${key}': expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }
  if (typeof value === 'boolean')
    throw fail(`'${key}': expected a value like ${opt.flags.split(' ')[1] ?? 'a string'}, got ${value}`);
  try {
    return opt.parseArg ? opt.parseArg(String(value), undefined) : String(value);
  } catch (e) {
    throw fail(`'${key}': ${(e as Error).message}, got ${JSON.stringify(value)}`);
  }
}

function describeIssue(issue: z.ZodIssue, names: string[]): string {
  if (issue.code === 'unrecognized_keys') return `unknown field '${issue.keys[0]}' (expected one of ${names.join(', ')})`;
  if (issue.path.length === 0) return 'expected a JSON object of option names and values';
  return `'${issue.path.join('.')}': expected a string, number or boolean`;
}

/** Apply the spec's values to `flags` where the command line did not set the option. */
export function applySpec(flags: Record<string, unknown>, spec: Record<string, unknown>, cmd: Command): void {
  for (const [attr, value] of Object.entries(spec)) if (cmd.getOptionValueSource(attr) !== 'cli') flags[attr] = value;
}
