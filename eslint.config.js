// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { rendererFeatures } from './eslint-rules/renderer-features.mjs';

/**
 * Layering, after VS Code's `local/code-layering`: dependencies point inward.
 *   src/shared   imports no other layer (pure TypeScript: no Node, no DOM API imports)
 *   src/main     imports only src/shared
 *   src/preload  imports only src/shared
 *   src/renderer imports only src/shared
 *   src/cli      (Node command-line tools such as npm run qc) imports only src/shared
 * Enforced with no-restricted-imports patterns per folder (and, inside src/renderer, the
 * local/renderer-features rule: features meet through public entries); tests/unit/lint-layering.test.ts
 * proves the rule fires on a file that breaks it.
 */
const layer = (forbidden, message) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: forbidden.map((name) => ({
        group: [`**/${name}`, `**/${name}/**`, `src/${name}/**`],
        message,
      })),
    },
  ],
});

export default tseslint.config(
  {
    ignores: ['dist/**', 'out/**', 'release/**', 'node_modules/**', 'test-results/**', 'playwright-report/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'describe', property: 'only', message: 'No .only in committed tests.' },
        { object: 'it', property: 'only', message: 'No .only in committed tests.' },
        { object: 'test', property: 'only', message: 'No .only in committed tests.' },
      ],
    },
  },
  {
    files: ['src/shared/**'],
    rules: {
      ...layer(['main', 'preload', 'renderer'], 'src/shared is the innermost layer: it imports no other layer.'),
      'no-restricted-globals': ['error', 'window', 'document', 'process', 'Buffer', 'require'],
    },
  },
  { files: ['src/main/**'], rules: layer(['renderer', 'preload'], 'src/main imports only src/shared.') },
  { files: ['src/preload/**'], rules: layer(['renderer', 'main'], 'src/preload imports only src/shared.') },
  { files: ['src/renderer/**'], rules: layer(['main', 'preload'], 'src/renderer imports only src/shared.') },
  // Inside the renderer: features use lib/, types/, cache/, dicomweb/, storage/ and other
  // features' public entries only (eslint-rules/renderer-features.mjs; tests/unit/lint-layering.test.ts).
  {
    files: ['src/renderer/**/*.ts', 'src/renderer/**/*.tsx'],
    plugins: { local: { rules: { 'renderer-features': rendererFeatures } } },
    rules: { 'local/renderer-features': 'error' },
  },
  // The Node command-line tools (npm run qc) run the shared checks; they reach no app layer.
  { files: ['src/cli/**'], rules: layer(['main', 'preload', 'renderer'], 'src/cli imports only src/shared.') },
  {
    // Node scripts and the test runners' configs are entry points that print to the terminal.
    files: ['scripts/**', 'bench/**', 'tests/fixtures/cli.ts', '.ci/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
    rules: { 'no-console': 'off' },
  },
);
