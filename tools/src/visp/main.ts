// visp: the operator's command line for a rootless Podman host (quadlets/, containerfiles/). Every command has
// --help; those whose output is data have --json; any failure exits non-zero with what to do about it. The commands
// are a table (commands/), run by cli.ts.
import { runCli } from './cli';
import { COMMANDS } from './commands';

export const main = (argv: string[]): Promise<number> => runCli(COMMANDS, argv);

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`visp: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
