/**
 * Removes a test's many licensegate objects from the shared cluster while an operator runs
 * (Customers carry its finalizer), so later suites don't start by re-planning them all.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../src/api/index.js';
import type { Operator } from '../../src/operator.js';
import { startOperator } from './operator-harness.js';

export async function deleteByPrefix(kc: KubeConfig, prefix: string, running?: Operator): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const operator = running ?? (await startOperator(kc));
  try {
    for (const plural of ['licenses', 'customers', 'applications']) {
      const { items } = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as { items: { metadata: { name: string } }[] };
      for (const { metadata } of items.filter((o) => o.metadata.name.startsWith(prefix))) {
        await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural, name: metadata.name }).catch(() => undefined);
      }
    }
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { items } = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers' })) as { items: { metadata: { name: string } }[] };
      if (!items.some((c) => c.metadata.name.startsWith(prefix)) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await operator.whenIdle();
  } finally {
    if (!running) await operator.stop();
  }
}
