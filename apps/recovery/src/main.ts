import { closeRedis, createRedis } from '@visp/bus';
import { exitOnConfigError, loadConfigOrExit, loadSessionTypes, loggerFor, recoveryConfig } from '@visp/config';
import { bootstrap, runService } from '@visp/service-kit';
import { openSessionRuntime } from '@visp/sessions';
import { openStore } from '@visp/store';
import { buildRecovery } from './app';

// `recovery --dry-run`: one look, the plan printed as JSON lines, nothing changed, then exit.
bootstrap('recovery', async () => {
  const config = loadConfigOrExit(recoveryConfig);
  const types = exitOnConfigError(config.component, () => loadSessionTypes(config.SESSION_TYPES_FILE));
  const logger = loggerFor(config);
  const runtime = exitOnConfigError(config.component, () => openSessionRuntime(config, logger));
  const redis = createRedis(config.REDIS_URL, { name: config.component, logger });
  const store = await openStore(config.MONGO_URI, { logger });
  const closeAfter = [() => store.close(), () => closeRedis(redis)];
  const { service, recovery } = buildRecovery(config, { store, redis, runtime, types, logger, closeAfter });

  if (process.argv.includes('--dry-run')) {
    const report = await recovery.pass({ dryRun: true });
    for (const outcome of report.outcomes) process.stdout.write(`${JSON.stringify(outcome)}\n`);
    process.stdout.write(`${report.outcomes.length} planned actions (dry run: nothing was changed)\n`);
    for (const close of closeAfter) await close();
    return;
  }
  recovery.start();
  await runService(service, config.SHUTDOWN_TIMEOUT_MS);
});
