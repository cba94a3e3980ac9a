// The `visp` command line over a table of subcommands (commands/): finds the one asked for, answers help from the
// table (`visp help`, `visp help CMD`, `visp CMD --help`), runs it (a command that runs another, `visp exec`, gets
// that one's arguments untouched), and turns an OperatorError into its message and fix with exit 1.
import { OperatorError } from './host';

/** An option a command takes; one with a `value` takes the next argument. */
export interface CommandOption {
  flag: string;
  /** What its value is (`NAME`, `DIR`, …); absent for a switch. */
  value?: string;
}

/** One entry of the table: a subcommand with its names, options, help and what it does. */
export interface VispCommand {
  /** The names it answers to: the first is how `visp help` lists it; the others share its help (start|stop|restart). */
  names: readonly [string, ...string[]];
  /** Its usage line, as `visp help` lists it. */
  usage: string;
  /** What it does, lines below the usage in its own help. */
  description: readonly string[];
  options: readonly CommandOption[];
  /**
   * For a command that runs another (`visp exec SERVICE COMMAND...`), by the name it is called by: how many
   * positional arguments are visp's. The next argument is the other command's name, and from there on every
   * argument is that command's (`Args.passed`), `-h`, `--help` and `--json` included.
   * @defaultValue every argument is visp's
   */
  passesOn?: Readonly<Record<string, number>>;
  run(invocation: Invocation): number | Promise<number>;
}

/** A command as it was called. */
export interface Invocation {
  /** The name it was called by. */
  name: string;
  args: Args;
  /** Its own help, for an error that is best answered with it. */
  help: string;
  /** Prints the result: the data as JSON with --json, the text otherwise. */
  print(data: unknown, text: string): void;
}

/** The arguments after the command's name: visp's own, and those it passes on to a command it runs. */
export class Args {
  /** Visp's: all of them, unless the command passes some on. */
  readonly own: readonly string[];
  /** The command a `passesOn` command runs, with its arguments, as given; empty for the others. */
  readonly passed: readonly string[];

  constructor(
    all: readonly string[],
    private readonly options: readonly CommandOption[] = [],
    /** How many positional arguments are visp's before the passed-on command begins (see `VispCommand.passesOn`). */
    ownPositionals = Infinity,
  ) {
    const start = this.positionalIndexes(all)[ownPositionals] ?? all.length;
    this.own = all.slice(0, start);
    this.passed = all.slice(start);
  }
  has(flag: string): boolean {
    return this.own.includes(flag);
  }
  value(flag: string): string | undefined {
    const i = this.own.indexOf(flag);
    return i >= 0 ? this.own[i + 1] : undefined;
  }
  /** Visp's arguments that are neither flags nor the values of the command's options that take one. */
  positional(): string[] {
    return this.positionalIndexes(this.own).map((i) => this.own[i] as string);
  }
  private positionalIndexes(args: readonly string[]): number[] {
    const valued = this.options.filter((o) => o.value !== undefined).map((o) => o.flag);
    return args.flatMap((a, i) => (!a.startsWith('-') && !valued.includes(args[i - 1] ?? '') ? [i] : []));
  }
}

export const helpText = (command: VispCommand): string => [command.usage, ...command.description.map((line) => `  ${line}`)].join('\n');

export const usageText = (table: readonly VispCommand[]): string =>
  `usage: visp <command> [options]   (visp <command> --help for each)\n\n${table.map((command) => `  ${command.usage}`).join('\n')}`;

const write = (stream: NodeJS.WriteStream, text: string) => void stream.write(`${text}\n`);

/** Runs `visp <argv>` against a table; resolves with the exit code. */
export async function runCli(table: readonly VispCommand[], argv: readonly string[]): Promise<number> {
  const [name = '', ...rest] = argv;
  const find = (wanted: string) => table.find((command) => command.names.includes(wanted));
  const unknown = (wanted: string) => {
    const names = table.flatMap((command) => command.names);
    write(process.stderr, `visp: unknown command ${wanted} (known: ${names.join(', ')})\n\n${usageText(table)}`);
    return 2;
  };

  if (name === '' || name === 'help' || name === '--help') {
    const [topic] = rest;
    if (topic === undefined || topic === 'help') {
      write(process.stdout, usageText(table));
      return name === '' ? 2 : 0;
    }
    const command = find(topic);
    if (!command) return unknown(topic);
    write(process.stdout, helpText(command));
    return 0;
  }
  const command = find(name);
  if (!command) return unknown(name);
  const args = new Args(rest, command.options, command.passesOn?.[name]);
  if (args.has('--help') || args.has('-h')) {
    write(process.stdout, helpText(command));
    return 0;
  }
  const json = args.has('--json');
  try {
    return await command.run({ name, args, help: helpText(command), print: (data, text) => write(process.stdout, json ? JSON.stringify(data, null, 2) : text) });
  } catch (err) {
    if (!(err instanceof OperatorError)) throw err;
    process.stderr.write(`visp ${name}: ${err.message}\n${err.fix ? `  fix: ${err.fix}\n` : ''}`);
    return 1;
  }
}
