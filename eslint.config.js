// ESLint flat config (eslint 9, typescript-eslint 8). Formatting is Prettier's job:
// eslint-config-prettier comes last and switches off every rule that would fight it.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Type-aware rules (recommendedTypeChecked, program from tsconfig.test.json) are opt-in:
// `ESLINT_TYPED=1 npx eslint .` takes ~11 s instead of ~4 s and, on this code, mostly reports
// `any` from JSON.parse/page.evaluate and `!`/`as` that are redundant only without noUncheckedIndexedAccess.
const typed = process.env.ESLINT_TYPED === '1';

// `_`-prefixed names are deliberately unused (positional callback args, destructuring holes, catch (_e))
const unusedVars = [
  'error',
  {
    args: 'after-used',
    argsIgnorePattern: '^_',
    varsIgnorePattern: '^_',
    caughtErrorsIgnorePattern: '^_',
    destructuredArrayIgnorePattern: '^_',
    ignoreRestSiblings: true,
  },
];

export default defineConfig([
  globalIgnores([
    'build/',
    'dist/',
    'out/',
    'node_modules/',
    'assembly/', // AssemblyScript (decorators on functions, <T>x casts, v128/i32...): not TypeScript ESLint can parse meaningfully
    'bench/results/',
    'test/fixtures/',
    'test-artifacts/',
  ]),

  // TypeScript: the library, its tests and the vitest config
  {
    files: ['src/**/*.ts', 'test/**/*.ts', '*.config.ts'],
    extends: [
      js.configs.recommended,
      typed ? tseslint.configs.recommendedTypeChecked : tseslint.configs.recommended,
    ],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node, ...globals.browser },
      ...(typed && {
        parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
      }),
    },
    rules: {
      '@typescript-eslint/no-unused-vars': unusedVars,
      // `!` marks indexes/lookups the code has already bounds-checked (src/data, worker.ts); kept as
      // allowed (it is not in `recommended` either) rather than replaced with runtime checks in hot loops
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `as unknown as X` is used only at the wasm / Worker boundary where the DOM/TS types do not
      // describe the object; no recommended rule flags it, and we do not opt in to one
    },
  },
  {
    files: ['src/worker/**/*.ts'],
    languageOptions: { globals: { ...globals.worker } },
  },

  // Plain JavaScript: bench/ and scripts/ run in Node; the demo and the bench page in the browser
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: { 'no-unused-vars': unusedVars },
  },
  {
    files: ['bench/**/*.mjs', 'scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // page.mjs is bundled for Chromium; run.mjs passes callbacks to page.evaluate that run there
    files: ['bench/browser/**/*.mjs'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['demo/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },

  prettier,
]);
