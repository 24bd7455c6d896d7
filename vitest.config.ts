import { defineConfig } from 'vitest/config';

const ignored = ['**/node_modules/**', 'dist/**', '.data/**'];

/**
 * Three projects (STYLE.md), each named by what its tests need:
 * - `unit`: co-located `x.test.ts` under src/, workflows/ and activities/. Pure: no PostgreSQL, no Temporal, no
 *   browser, no timing assertions (speed is measured by `npm run bench:*`). A few start an in-process server on
 *   127.0.0.1 port 0 (MLLP, the coordinator pages, fake Notify / webhook receivers) and talk to it over loopback.
 *   `npm run test:unit` runs this project alone; it starts nothing else.
 * - `int`: `x.int.test.ts` anywhere, against real outside programs: PostgreSQL, the Temporal dev server, Chromium.
 * - `e2e`: `test/e2e/*.e2e.test.ts`, the whole service on real sockets.
 * `int` and `e2e` share one Temporal dev server and one workflow bundle per run (test/support/global-setup.ts).
 */
export default defineConfig({
  test: {
    // in CI also a JSON report, from which .ci/run prints the plain "N passed, N failed" closing line
    ...(process.env.CI ? { reporters: ['default', 'json'], outputFile: { json: '.vitest-results.json' } } : {}),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'workflows/**/*.test.ts', 'activities/**/*.test.ts'],
          exclude: [...ignored, '**/*.int.test.ts', '**/*.e2e.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude: ignored,
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          exclude: ignored,
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
