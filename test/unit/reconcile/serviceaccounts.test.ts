/** Which default ServiceAccounts a customer reconcile and the cluster-wide take-back touch (the API side is in test/integration/serviceaccount-pullsecrets.test.ts). */
import type { KubernetesObject, V1Namespace, V1ServiceAccount } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeWriter } from '../../../src/kube/writer.js';
import type { OwnedObject } from '../../../src/render/plan.js';
import { ADDED_PULL_SECRETS_ANNOTATION } from '../../../src/render/serviceaccount.js';
import { syncDefaultServiceAccounts, takeBackReleasedPullSecrets } from '../../../src/reconcile/serviceaccounts.js';
import { CUSTOMER_LABEL } from '../../../src/vocabulary/labels.js';

const namespace = (name: string, owner?: string): V1Namespace => ({ metadata: { name, ...(owner ? { labels: { [CUSTOMER_LABEL]: owner } } : {}) } });
const account = (ns: string, added?: string): V1ServiceAccount => ({
  metadata: { name: 'default', namespace: ns, resourceVersion: '1', ...(added ? { annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: added } } : {}) },
  imagePullSecrets: added ? [{ name: added }] : [],
});

function world(namespaces: V1Namespace[], accounts: V1ServiceAccount[]) {
  const patched: string[] = [];
  const writer = { mergePatch: async (o: KubernetesObject) => void patched.push(o.metadata!.namespace!) } as unknown as KubeWriter;
  const caches = {
    namespaces: {
      list: () => namespaces,
      get: (name: string) => namespaces.find((n) => n.metadata?.name === name),
      ofCustomer: (c: string) => namespaces.filter((n) => n.metadata?.labels?.[CUSTOMER_LABEL] === c),
    },
    serviceAccounts: {
      list: () => accounts,
      get: (_name: string, ns?: string) => accounts.find((a) => a.metadata?.namespace === ns),
      withAddedPullSecrets: () => accounts.filter((a) => a.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION]),
    },
  };
  return { deps: { caches, writer, log: pino({ level: 'silent' }) }, patched };
}

const pullSecret = (ns: string): OwnedObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pull', namespace: ns } }) as OwnedObject;

describe('syncDefaultServiceAccounts', () => {
  it("writes the customer's namespaces and takes back from one it is releasing; never touches another customer's or an unowned namespace", async () => {
    const { deps, patched } = world(
      [namespace('mine', 'acme'), namespace('leaving', 'acme'), namespace('theirs', 'globex'), namespace('nobodys')],
      [account('mine'), account('leaving', 'pull'), account('theirs', 'pull'), account('nobodys', 'pull')],
    );
    await syncDefaultServiceAccounts(deps, 'acme', { namespaces: ['mine'], objects: [pullSecret('mine')] }, true);
    expect(patched.sort()).toEqual(['leaving', 'mine']);
  });

  it('skips a namespace whose default ServiceAccount does not exist yet', async () => {
    const { deps, patched } = world([namespace('new', 'acme')], []);
    await syncDefaultServiceAccounts(deps, 'acme', { namespaces: ['new'], objects: [pullSecret('new')] }, true);
    expect(patched).toEqual([]);
  });
});

describe('takeBackReleasedPullSecrets', () => {
  it('takes back only from namespaces no customer holds, and only where the operator added entries', async () => {
    const { deps, patched } = world(
      [namespace('held', 'acme'), namespace('released'), namespace('untouched')],
      [account('held', 'pull'), account('released', 'pull'), account('untouched'), account('gone', 'pull')],
    );
    await takeBackReleasedPullSecrets(deps);
    // "gone": its namespace is not in the cache (being deleted): no customer holds it either.
    expect(patched.sort()).toEqual(['gone', 'released']);
  });
});
