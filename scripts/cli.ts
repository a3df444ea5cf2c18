/**
 * The command line of every script in scripts/: `-h`/`--help` prints the usage to stdout and
 * exits 0; an unknown flag, a flag without its value or an unexpected argument prints what
 * is wrong and the usage to stderr and exits 2. `readCommandLine` decides, `commandLine`
 * acts on the decision (kept apart so the decision can be tested without exiting).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type Values<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{
    options: O & { help: { type: 'boolean'; short: 'h' } };
    allowPositionals: true;
    strict: true;
  }>
>['values'];

export type CommandLineOutcome<O extends OptionsConfig> =
  | { readonly kind: 'run'; readonly values: Values<O>; readonly positionals: string[] }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

export interface CommandLineSpec<O extends OptionsConfig> {
  readonly options: O;
  /** How many positional arguments the script takes; default 0. */
  readonly maxPositionals?: number;
}

export function readCommandLine<O extends OptionsConfig>(
  args: readonly string[],
  spec: CommandLineSpec<O>,
): CommandLineOutcome<O> {
  let parsed: { values: Values<O>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } } as O & {
        help: { type: 'boolean'; short: 'h' };
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return { kind: 'error', message: parseError(error) };
  }
  if ((parsed.values as { help?: boolean }).help) return { kind: 'help' };
  const extra = parsed.positionals.slice(spec.maxPositionals ?? 0);
  if (extra.length > 0) return { kind: 'error', message: `Unexpected arguments: ${extra.join(' ')}` };
  return { kind: 'run', values: parsed.values, positionals: parsed.positionals };
}

export interface CommandLine<O extends OptionsConfig> {
  readonly values: Values<O>;
  readonly positionals: string[];
  /** Prints `message` and the usage to stderr, exits 2. */
  readonly fail: (message: string) => never;
}

/** Reads process.argv; prints the usage and exits on --help (0) or a bad command line (2). */
export function commandLine<O extends OptionsConfig>(
  usage: string,
  spec: CommandLineSpec<O>,
  args: readonly string[] = process.argv.slice(2),
): CommandLine<O> {
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n\n${usage}\n`);
    process.exit(2);
  };
  const outcome = readCommandLine(args, spec);
  if (outcome.kind === 'help') {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  if (outcome.kind === 'error') return fail(outcome.message);
  return { values: outcome.values, positionals: outcome.positionals, fail };
}

/** node:util's message for an unknown flag goes on about positionals; say just what is wrong. */
function parseError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const flag = /'([^']+)'/.exec(error.message)?.[1];
  if ((error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag)
    return `Unknown option ${flag}.`;
  return error.message;
}
