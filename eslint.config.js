// The project's lint and format rules: neostandard (JavaScript Standard Style for modern ESLint,
// with its TypeScript rules). The linter has its own toolchain in tools/lint/ (typescript-eslint
// needs TypeScript's compiler API, which the project's TypeScript 7 does not ship).
// `npm run lint` checks, `npm run lint:fix` rewrites what can be rewritten.
import neostandard from './tools/lint/node_modules/neostandard/index.js'
import globals from './tools/lint/node_modules/globals/index.js'

export default [
  ...neostandard({ ts: true, ignores: ['node_modules/**', 'tools/lint/node_modules/**', 'coverage/**', 'test/e2e/fixtures/**'] }),
  {
    rules: {
      // `void promise` marks a promise deliberately left to run (its errors are handled inside)
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    // `_` names a value a loop or a destructuring must take and does not use
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_$', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }]
    }
  },
  {
    // the web console runs in the browser, without a build step
    files: ['src/http/console/**/*.js'],
    languageOptions: { globals: globals.browser }
  }
]
