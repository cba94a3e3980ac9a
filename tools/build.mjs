// Bundles each service and the dev tool into one file under dist/ (our code only; packages stay in node_modules).
// The same bundles run locally and in the service images.
import { copyFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const entries = readdirSync(path.join(root, 'apps'))
  .filter((app) => existsSync(path.join(root, 'apps', app, 'src/main.ts')))
  .map((app) => ({ in: `apps/${app}/src/main.ts`, out: `apps/${app}/main` }));
entries.push({ in: 'tools/src/visp-dev.ts', out: 'tools/visp-dev' }, { in: 'tools/src/visp/main.ts', out: 'tools/visp' });

await build({
  absWorkingDir: root,
  entryPoints: entries,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: 'linked',
  tsconfig: 'tsconfig.base.json',
  logLevel: 'warning',
});

// The whisper-worker's warm engine, a Python program it starts (apps/whisper-worker/src/engines/warm-whisper.ts
// finds it beside itself: beside the bundle here, and in the image, which copies dist/apps/whisper-worker whole).
copyFileSync(path.join(root, 'apps/whisper-worker/src/engines/warm_whisper.py'), path.join(root, 'dist/apps/whisper-worker/warm_whisper.py'));

// The gateway's start page: its script for browsers, and the static files beside it.
await build({
  absWorkingDir: root,
  entryPoints: ['apps/gateway/web/app.ts'],
  outfile: 'dist/apps/gateway/web/app.js',
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
  tsconfig: 'apps/gateway/web/tsconfig.json',
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) copyFileSync(path.join(root, 'apps/gateway/web', file), path.join(root, 'dist/apps/gateway/web', file));
