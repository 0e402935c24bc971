import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Rebuilds dist/ when its sources changed and fails the run if the build fails, so the
    // worker-pool and CLI tests never test stale code (test/helpers/worker-build.ts).
    globalSetup: ['test/helpers/worker-build.ts'],
  },
});
