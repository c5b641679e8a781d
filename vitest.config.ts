import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { nodeUnavailableReason } from './src/localcluster/node-host.js';

/**
 * Whether the end-to-end project runs in a plain `vitest run` (npm test): on a cluster given by
 * KUBECONFIG with a registry given by env (see test/e2e/environment.ts), or on a machine where
 * the harness can start a node (Linux, root, the Debian packages test/setup.sh installs).
 * LICENSEGATE_E2E=0 leaves it out; `npm run test:e2e` runs it alone.
 */
function e2eCanRun(): boolean {
  if (process.env['LICENSEGATE_E2E'] === '0') return false;
  if (process.env['LICENSEGATE_TEST_USE_KUBECONFIG'] === '1') return Boolean(process.env['LICENSEGATE_TEST_REGISTRY']);
  if (nodeUnavailableReason() !== undefined) return false;
  // The operator image is built with these unless one is given.
  return Boolean(process.env['LICENSEGATE_TEST_OPERATOR_IMAGE']) || ['/usr/bin/buildah', '/usr/sbin/debootstrap'].every((path) => existsSync(path));
}

const e2eSelected = process.argv.includes('e2e');

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          // After each file's own hooks: its operators stopped, no webhook left pointing at them.
          setupFiles: ['test/integration/file-setup.ts'],
          // One control plane serves the whole run; files share it, so keep them few and
          // let each test own its namespace and object names.
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      ...(e2eSelected || e2eCanRun()
        ? [
            {
              test: {
                name: 'e2e',
                include: ['test/e2e/**/*.test.ts'],
                // Its own cluster with a node; steps build on each other.
                testTimeout: 180_000,
                // The first run builds the operator image (minutes).
                hookTimeout: 1_800_000,
                fileParallelism: false,
                // After unit and integration: a node and an image build would slow their timed tests.
                sequence: { groupOrder: 1 },
              },
            },
          ]
        : []),
    ],
  },
});
