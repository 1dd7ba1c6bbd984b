// One lint config for the project (npm run lint). Generated fast twins are derived
// from their sources and not linted themselves.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '**/*.fast.ts',
      '**/*.sched.ts',
      '!src/shm/atomic.fast.ts',
      '!src/sched/irq.fast.ts',
      // model files broken on purpose, for the tests of their one-line errors
      'test/fixtures/bad/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'workers/**/*.mjs', 'bin/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
