import { defineConfig } from 'vitest/config';

/**
 * Three projects (STYLE.md): `unit` (pure, co-located `x.test.ts`), `int` (`x.int.test.ts`, real PostgreSQL and
 * Temporal) and `e2e` (`test/e2e/*.e2e.test.ts`, the whole service on real sockets). The int and e2e projects
 * share one Temporal dev server per run, started in globalSetup.
 */
export default defineConfig({
  test: {
    // in CI also a JSON report, from which .ci/run prints the plain "N passed, N failed" closing line
    ...(process.env.CI ? { reporters: ['default', 'json'], outputFile: { json: '.vitest-results.json' } } : {}),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'workflows/**/*.test.ts', 'activities/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/*.e2e.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'int',
          include: ['**/*.int.test.ts', 'test/e2e/**/*.e2e.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
