/**
 * The time-bomb check: the date-sensitive suites with the test process's clock two years ahead
 * (`npm run test:time-travel`). Nothing here may depend on today's date; the API server keeps
 * the real one, which is the point: only the operator's injected clocks decide.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/reconcile.test.ts', 'test/integration/hardening.test.ts'],
    globalSetup: ['test/integration/global-setup.ts'],
    setupFiles: ['test/time-travel/shift-date.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
