// The developer's entry point behind `npm start` and `npm test` (after tools/setup/bootstrap.sh).
import { ensureImages } from './images';
import { runTests } from './test-runner';
import { startStack } from './stack';

const USAGE = `usage: visp-dev <command>
  start                 run the local stack (Podman service, Redis, database, every service) until Ctrl-C
  images                build the local images that are missing or out of date
  test [--only P]       lint, typecheck and every test with real Redis, database and Podman;
                        --only runs one Jest project (e.g. bus or bus:int) without the static checks`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return startStack();
    case 'images':
      await ensureImages((line) => console.log(`[images] ${line}`));
      return 0;
    case 'test': {
      const onlyAt = rest.indexOf('--only');
      const only = onlyAt >= 0 ? rest[onlyAt + 1] : undefined;
      if (onlyAt >= 0 && !only) break;
      return runTests({ only, staticChecks: only === undefined });
    }
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`visp-dev: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
