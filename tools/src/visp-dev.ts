// The developer's entry point behind `npm start` and `npm test` (after tools/setup/bootstrap.sh).
import { benchSpawn } from '../bench/spawn';
import { ensureImages } from './images';
import { runTests } from './test-runner';
import { startStack } from './stack';

const USAGE = `usage: visp-dev <command>
  start                 run the local stack (Podman service, Redis, database, every service) until Ctrl-C
  images                build the local images that are missing or out of date
  test [--only P] [-- jest args]
                        lint, typecheck and every test with real Redis, database and Podman;
                        --only runs one Jest project (e.g. bus or bus:int) without the static checks;
                        arguments after -- go to Jest as they are (e.g. -t 'culls')
  bench spawn [--runs N] [--burst N]
                        session start time through the platform against bare Podman (tools/bench/spawn.ts)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return startStack();
    case 'images':
      await ensureImages((line) => console.log(`[images] ${line}`));
      return 0;
    case 'bench': {
      const number = (flag: string, fallback: number) => (rest.includes(flag) ? Number(rest[rest.indexOf(flag) + 1]) : fallback);
      const [runs, burst] = [number('--runs', 7), number('--burst', 10)];
      if (rest[0] !== 'spawn' || !(runs >= 1) || !(burst >= 1)) break;
      return benchSpawn({ runs, burst });
    }
    case 'test': {
      const separator = rest.includes('--') ? rest.indexOf('--') : rest.length;
      const [own, jestArgs] = [rest.slice(0, separator), rest.slice(separator + 1)];
      const onlyAt = own.indexOf('--only');
      const only = onlyAt >= 0 ? own[onlyAt + 1] : undefined;
      if (onlyAt >= 0 && !only) break;
      return runTests({ only, staticChecks: only === undefined && jestArgs.length === 0, jestArgs });
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
