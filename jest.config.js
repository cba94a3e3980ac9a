// One Jest run over every project. Each project contributes two Jest projects:
// `<name>` for unit tests (*.spec.ts) and `<name>:int` for tests needing real Redis, Mongo or Podman
// (*.int.spec.ts). `npm test` runs both with the infrastructure up; `nx test <name>` runs the unit half.
const { readdirSync, existsSync } = require('node:fs');
const path = require('node:path');

const swc = [
  '@swc/jest',
  { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
];
// As tsconfig.base.json's paths: each lib's entry, and the zod-free word lists the start page imports.
const moduleNameMapper = {
  '^@visp/contracts/vocabulary$': path.join(__dirname, 'libs/contracts/src/v1/vocabulary.ts'),
  '^@visp/([^/]+)$': path.join(__dirname, 'libs/$1/src/index.ts'),
};

function projectDirs() {
  const dirs = [];
  for (const group of ['apps', 'libs']) {
    for (const name of readdirSync(path.join(__dirname, group))) dirs.push({ name, dir: path.join(__dirname, group, name) });
  }
  dirs.push({ name: 'e2e', dir: path.join(__dirname, 'e2e') }, { name: 'tools', dir: path.join(__dirname, 'tools') });
  return dirs.filter((p) => existsSync(path.join(p.dir, 'project.json')));
}

const common = { testEnvironment: 'node', transform: { '^.+\\.ts$': swc }, moduleNameMapper, clearMocks: true };
// Path patterns left out of this run: `npm test` runs those specs alone afterwards (tools/src/test-runner.ts, SOLO_SPECS).
const solo = (process.env.VISP_JEST_WITHOUT ?? '').split(',').filter(Boolean);

module.exports = {
  projects: projectDirs().flatMap(({ name, dir }) => [
    { ...common, displayName: name, rootDir: dir, testMatch: ['<rootDir>/**/*.spec.ts'], testPathIgnorePatterns: ['\\.int\\.spec\\.ts$', '/node_modules/'] },
    { ...common, displayName: `${name}:int`, rootDir: dir, testMatch: ['<rootDir>/**/*.int.spec.ts'], testPathIgnorePatterns: ['/node_modules/', ...solo], setupFilesAfterEnv: [path.join(__dirname, 'tools/jest/int-setup.js')], slowTestThreshold: 30 },
  ]),
};
