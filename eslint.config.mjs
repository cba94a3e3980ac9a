import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import contractLiterals from './tools/src/lint/contract-literals.cjs';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.visp/**', '.nx/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  { plugins: { '@nx': nx, visp: { rules: { 'contract-literals': contractLiterals } } } },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib'] },
          ],
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
      // Only libs/config reads the environment (STYLE.md 3); everything else gets a parsed, typed config.
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read settings through @visp/config.' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['@visp/*/src/*', '**/libs/*/src/**'], message: 'Import a lib through its public entry @visp/<lib>.' }] }],
      // Label names and the lists libs/contracts exports are written there once (STYLE.md 4); tools/src/lint.
      'visp/contract-literals': 'error',
    },
  },
  {
    // Where they are defined; and the rule's own spec, whose samples are the literals it must report.
    files: ['libs/contracts/src/**/*.ts', 'tools/src/lint/contract-literals.spec.ts'],
    rules: { 'visp/contract-literals': 'off' },
  },
  {
    // The start page takes values only from `@visp/contracts/vocabulary` (zod-free); anything else of
    // @visp/contracts would bundle zod and every schema into the browser's script.
    files: ['apps/gateway/web/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: '@visp/contracts', allowTypeImports: true, message: 'In the browser, import values from @visp/contracts/vocabulary.' }],
          patterns: [{ group: ['@visp/*/src/*', '**/libs/*/src/**'], message: 'Import a lib through its public entry @visp/<lib>.' }],
        },
      ],
    },
  },
  {
    files: ['libs/config/src/**/*.ts', 'libs/testing/src/**/*.ts', 'tools/**/*.ts', 'e2e/**/*.ts', '**/*.spec.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['tools/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // The custom lint rules (tools/src/lint) are CommonJS, so that this file and Jest both load them as they are.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // In tests a missing value fails the test anyway; `!` keeps assertions readable.
    files: ['**/*.spec.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
