/**
 * Checked readers of command-line flag values, shared by the CLI and the
 * benchmarks' training command. Each reports a bad value through `fail`
 * (which prints the usage and exits), naming the flag.
 */
import {parseArgs, ParseArgsConfig} from 'util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The values of the flags `options`, parsed strictly with positionals allowed. */
export type FlagValues<O extends Options> =
    ReturnType<typeof parseArgs<{args: string[], allowPositionals: true, strict: true, options: O}>>['values'];

/**
 * The flags of `tfjs-er train …` (`options`, strict): prints `usage` and
 * exits with --help; reports an unknown flag or command through `fail`.
 */
export function trainFlags<O extends Options>(argv: string[], options: O, usage: string,
                                              fail: (message: string) => never): FlagValues<O> {
  let parsed;
  try {
    parsed = parseArgs({args: argv, allowPositionals: true, strict: true, options});
  } catch (e) {
    fail((e as Error).message);
  }
  if ((parsed.values as {help?: boolean}).help) {
    console.log(usage);
    process.exit(0);
  }
  if (parsed.positionals[0] !== 'train') fail(`unknown command '${parsed.positionals[0] ?? ''}'`);
  return parsed.values;
}

/** A `fail` for a command: prints the message and `usage` on stderr and exits with status 2. */
export function usageFail(usage: string): (message: string) => never {
  return message => {
    console.error(`tfjs-er: ${message}\n\n${usage}`);
    process.exit(2);
  };
}

/** Flag readers that report through `fail`. */
export function flagReaders(fail: (message: string) => never) {
  return {
    /** `value` if it is one of `allowed`, `def` when absent. */
    oneOf<T extends string>(name: string, value: string|undefined, allowed: T[], def: T): T {
      if (value == null) return def;
      if (!(allowed as string[]).includes(value)) fail(`--${name} must be one of ${allowed.join(', ')}, got '${value}'`);
      return value as T;
    },
    /** `value` as a positive integer, `def` when absent. */
    int(name: string, value: string|undefined, def?: number): number|undefined {
      if (value == null) return def;
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) fail(`--${name} must be a positive integer, got '${value}'`);
      return n;
    },
    /** `value` as a finite number >= 0 of `unit`; undefined when absent. */
    nonNegative(name: string, value: string|undefined, unit: string): number|undefined {
      if (value == null) return undefined;
      const n = Number(value);
      if (!(n >= 0 && Number.isFinite(n))) fail(`--${name} must be a number of ${unit} >= 0, got '${value}'`);
      return n;
    },
    /** `--alpha`: 'auto' or a finite number >= 0; undefined when absent. */
    alpha(value: string|undefined): number|'auto'|undefined {
      if (value == null) return undefined;
      if (value === 'auto') return 'auto';
      const a = Number(value);
      if (!(a >= 0 && Number.isFinite(a))) fail(`--alpha must be 'auto' or a number >= 0, got '${value}'`);
      return a;
    },
    /** `--seed`: a non-negative integer, 0 when absent. */
    seed(value: string|undefined): number {
      const s = value == null ? 0 : Number(value);
      if (!Number.isInteger(s) || s < 0) fail('--seed must be a non-negative integer');
      return s;
    },
  };
}
