import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import reactHooks from 'eslint-plugin-react-hooks';
import { readdirSync } from 'node:fs';

/** Every package of the monorepo by folder name: a relative import must never reach into one of them. */
const PACKAGES = ['libs', 'apps'].flatMap((dir) =>
  readdirSync(new URL(dir, import.meta.url), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name),
);

/**
 * Who may import whom (Nx tags in each project.json; DESIGN.md): apps import libs, no lib imports an
 * app; suites are written against the session contract, never a driver; drivers implement it.
 */
export const DEP_CONSTRAINTS = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'scope:protocol', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'scope:session', onlyDependOnLibsWithTags: ['scope:protocol'] },
  { sourceTag: 'scope:suites', onlyDependOnLibsWithTags: ['scope:session', 'scope:image', 'scope:protocol'] },
  // The bundled emulator's machine is a target its driver runs.
  {
    sourceTag: 'scope:driver',
    onlyDependOnLibsWithTags: ['scope:session', 'scope:host', 'scope:protocol', 'scope:emulator'],
  },
];

/** A package is imported by its name and its declared entry points, never by its sources or build output. */
export const RESTRICTED_IMPORTS = {
  patterns: [
    {
      group: [
        '@vmfarm/*/dist',
        '@vmfarm/*/dist/**',
        '@vmfarm/*/src',
        '@vmfarm/*/src/**',
        '@vmfarm/*/test/**',
      ],
      message:
        "import the package or its declared entry point (e.g. '@vmfarm/session/testing'), not its files",
    },
    {
      regex: `^(\\.\\./)+((libs|apps)/)?(${PACKAGES.join('|')})/(src|dist|test|testing)(/|$)`,
      message: "another package's files: import it by its name (e.g. '@vmfarm/session')",
    },
  ],
};

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '.nx/**', '**/*.js', '**/*.mjs', '**/*.cjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': ['error', { allow: [], depConstraints: DEP_CONSTRAINTS }],
      'no-restricted-imports': ['error', RESTRICTED_IMPORTS],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The dashboard's React components: the two classic hook rules (the compiler-based ones assume
    // React Compiler, which the dashboard does not use).
    files: ['apps/dashboard/**/*.ts', 'apps/dashboard/**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  prettier,
);
