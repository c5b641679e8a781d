/**
 * License limits at admission, on the real API server: two operator replicas (as their
 * ServiceAccount) serve the limits webhook behind a round-robin balancer; the API server calls
 * it for namespaces of customers holding a limited license. Requests come from the test's
 * admin user, or from impersonated tenants where seats matter.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type ConfigurationOptions, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { REPLICAS_ANNOTATION } from '../../src/enforcement/sweep.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, ledgerName, type Ledger, type License, type LicenseSpec, type VersionPolicy } from '../../src/api/index.js';
import { WEBHOOK_PATH } from '../../src/enforcement/webhook-config.js';
import { applyObjects } from '../../src/kube/apply.js';
import { apiError } from '../../src/kube/errors.js';
import { LimitReason } from '../../src/licensing/limits.js';
import { binaryCacheDir, freePort, readControlPlaneVersions } from '../../src/localcluster/index.js';
import type { Operator } from '../../src/operator.js';
import { LIMITS_LABEL } from '../../src/vocabulary/labels.js';
import { STATUS_CONFIGMAP_NAME } from '../../src/render/statusconfigmap.js';
import { viewerRules } from '../../src/manifests/rbac.js';
import { deploymentWith, serverVerdict, untilAdmission } from './admission-harness.js';
import { testApplication } from './admission-suite.js';
import { kubeConfig, uniqueName } from './context.js';
import { operatorKubeConfig, startOperator, watchUntil, watchUntilPasses } from './operator-harness.js';
import { RoundRobin } from './roundrobin.js';

const kc = kubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const app = uniqueName('lim-app');
const { repo } = testApplication(app);
const IMAGE = `${repo}:1.0.0`;
const operators: Operator[] = [];
let balancer: RoundRobin;
void LimitReason;

const kubectl = (() => {
  const cached = join(binaryCacheDir(readControlPlaneVersions()), 'kubectl');
  return existsSync(cached) ? cached : 'kubectl';
})();

beforeAll(async () => {
  await applyObjects(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'licensegate-system' } }, testApplication(app).object], { fieldManager: 'test' });
  const [front, a, b] = [await freePort(), await freePort(), await freePort()];
  balancer = await RoundRobin.start(front, [a, b]);
  for (const [identity, port] of [['limits-a', a], ['limits-b', b]] as const) {
    // A KubeConfig each: one process's operators sharing one would share its connection pool,
    // which their ~18 watches each would exhaust.
    operators.push(
      await startOperator(await operatorKubeConfig(kc), {
        LICENSEGATE_LEADER_ELECTION: 'true',
        LICENSEGATE_IDENTITY: identity,
        LICENSEGATE_LEASE_NAME: 'licensegate-limits-test',
        LICENSEGATE_WEBHOOK: 'true',
        LICENSEGATE_INSTALL_ADMISSION_POLICY: 'true',
        LICENSEGATE_WEBHOOK_PORT: String(port),
        LICENSEGATE_WEBHOOK_BIND_ADDRESS: '127.0.0.1',
        LICENSEGATE_WEBHOOK_URL: `https://127.0.0.1:${front}${WEBHOOK_PATH}`,
      }),
    );
  }
  await untilAdmission(async () => operators.every((o) => o.webhookPort !== undefined), 60_000);
}, 120_000);

afterAll(async () => {
  for (const o of operators) await o.stop();
  await balancer?.close();
  await kc.makeApiClient((await import('@kubernetes/client-node')).AdmissionregistrationV1Api).deleteValidatingWebhookConfiguration({ name: 'licensegate' }).catch(() => undefined);
});

/** A customer with `namespaces` and one License of the test application with `spec`; resolves once the limits webhook judges there. */
async function limitedCustomer(namespaces: number, spec: Partial<LicenseSpec>, customerSpec: Record<string, unknown> = {}) {
  const customer = uniqueName('lim');
  const license = `${customer}-lic`;
  const nss = Array.from({ length: namespaces }, (_, i) => `${customer}-${i}`);
  await applyObjects(kc, [
    { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: { namespaces: nss, ...customerSpec } },
    { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: app, versions: ['1.0.0'], ...spec } },
  ], { fieldManager: 'test' });
  await watchUntilPasses<VersionPolicy>(kc, `/apis/${GROUP}/${VERSION}/versionpolicies`, (all) => {
    for (const ns of nss) expect(all.find((p) => p.metadata.namespace === ns)?.spec.repositories[repo]?.allowedTags).toEqual(['1.0.0']);
  }, 60_000);
  await watchUntilPasses<{ metadata: { name: string; labels?: Record<string, string> } } & { apiVersion?: string; kind?: string }>(kc, '/api/v1/namespaces', (all) => {
    for (const ns of nss) expect(all.find((n) => n.metadata.name === ns)?.metadata.labels?.[LIMITS_LABEL]).toBeDefined();
  });
  // The policy and the webhook configuration reach the API server's admission a moment later.
  const probe = () => serverVerdict(kc, deploymentWith(nss[0]!, 'probe', [IMAGE]));
  // (Where seats are assigned, the test's admin holds none: the webhook answering that is live too.)
  await untilAdmission(async () => {
    const v = await probe();
    return v.allowed || v.message.includes('holds no seat');
  }, 20_000, probe);
  return { customer, license, namespaces: nss };
}

/** Creates a Deployment for real; '' when admitted, else the refusal. */
const create = (namespace: string, name: string, replicas: number, options?: ConfigurationOptions) =>
  apps.createNamespacedDeployment({ namespace, body: deploymentWith(namespace, name, [IMAGE], replicas) as V1Deployment }, options).then(
    () => '',
    (e: unknown) => apiError(e).message || 'refused',
  );
const scale = (namespace: string, name: string, replicas: number) =>
  apps
    .patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
    .then(() => '', (e: unknown) => apiError(e).message || 'refused');
const setReplicas = (namespace: string, name: string, replicas: number, options?: ConfigurationOptions) =>
  apps
    .patchNamespacedDeployment({ name, namespace, body: { spec: { replicas } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch, options))
    .then(() => '', (e: unknown) => apiError(e).message || 'refused');
/** Retries `attempt` while it returns a refusal that the caches may not have caught up with yet. */
async function until(attempt: () => Promise<string>, wanted: (result: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await attempt();
    if (wanted(result) || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const ledgerOf = (customer: string) =>
  custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ledgers', name: ledgerName(customer, app) }).then((l) => l as Ledger, () => undefined);

describe('maxReplicas', () => {
  it('admits 3 + 2 across two namespaces and refuses a sixth replica by create, spec update and /scale; scaling down passes', async () => {
    const { license, namespaces: [a, b] } = await limitedCustomer(2, { limits: { maxReplicas: 5 } });
    expect(await create(a!, 'three', 3)).toBe('');
    expect(await create(b!, 'two', 2)).toBe('');
    const refused = await until(() => serverVerdict(kc, deploymentWith(a!, 'one-more', [IMAGE], 1)).then((v) => v.message), (m) => m !== '');
    expect(refused).toContain(license);
    expect(refused).toContain('at most 5 replicas');
    expect(refused).toContain('5 are desired already');
    expect(await create(a!, 'one-more', 1)).toContain('at most 5 replicas');
    expect(await setReplicas(a!, 'three', 4)).toContain('at most 5 replicas');
    expect(await scale(b!, 'two', 3)).toContain('at most 5 replicas');
    expect(await scale(b!, 'two', 1)).toBe('');
    expect(await until(() => create(a!, 'one-more', 1), (m) => m === '')).toBe('');
  });

  it('overage 25 % on 4: the fifth replica is admitted with a warning kubectl prints, the sixth refused', async () => {
    const { namespaces: [a] } = await limitedCustomer(1, { limits: { maxReplicas: 4, overagePercent: 25 } });
    expect(await create(a!, 'four', 4)).toBe('');
    const manifest = JSON.stringify(deploymentWith(a!, 'fifth', [IMAGE], 1));
    // Asynchronously: the webhook kubectl's request reaches is served by this very process.
    const kubectlCreate = (...extra: string[]) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = execFile(kubectl, ['--kubeconfig', inject('kubeconfig'), 'create', '-f', '-', ...extra], (error, _stdout, stderr) =>
          resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
        );
        child.stdin?.end(manifest);
      });
    // A dry run first, until the webhook's caches hold the four.
    await until(async () => (await kubectlCreate('--dry-run=server')).stderr, (s) => s.includes('overage'));
    const fifth = await kubectlCreate();
    expect(fifth).toMatchObject({ status: 0 });
    expect(fifth.stderr).toMatch(/Warning: licensegate: 5 replicas exceed the limit of 4 of license .*25% overage/);
    expect(await until(() => create(a!, 'sixth', 1), (m) => m !== '')).toContain('at most 4 replicas');
  });
});

describe('a limit shrinking below usage', () => {
  it('kills nothing during the grace period: LimitReached (over the limit), scale-ups refused, scale-downs admitted', async () => {
    const { customer, license, namespaces: [a] } = await limitedCustomer(1, { limits: { maxReplicas: 5 } });
    expect(await create(a!, 'four', 4)).toBe('');
    await custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { spec: { limits: { maxReplicas: 2 } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await watchUntilPasses<License>(kc, `/apis/${GROUP}/${VERSION}/licenses`, (all) => {
      const reached = all.find((x) => x.metadata.name === license)?.status?.conditions?.find((c) => c.type === 'LimitReached');
      expect(reached).toMatchObject({ status: 'True', reason: 'OverLimit', message: expect.stringContaining('maxReplicas 4/2') });
    });
    expect(await until(() => scale(a!, 'four', 5), (m) => m !== '')).toContain('at most 2 replicas');
    expect(await scale(a!, 'four', 3)).toBe('');
    expect((await apps.readNamespacedDeployment({ namespace: a!, name: 'four' })).spec?.replicas).toBe(3);
    // The grace period (24 h by default) has started, recorded where a restart keeps it.
    await watchUntilPasses<Ledger>(kc, `/apis/${GROUP}/${VERSION}/ledgers`, (all) => {
      expect(all.find((l) => l.metadata.name === ledgerName(customer, app))?.spec.beyondAllowanceSince).toBeDefined();
    });
    expect((await apps.readNamespacedDeployment({ namespace: a!, name: 'four' })).spec?.replicas).toBe(3);
  });

  it('after the grace period the newest workloads are scaled to zero until the rest fits; raising the limit restores them exactly', async () => {
    const { customer, license, namespaces: [a, b] } = await limitedCustomer(2, { limits: { maxReplicas: 6 }, gracePeriod: '2s' });
    expect(await create(a!, 'older', 3)).toBe('');
    expect(await until(() => create(b!, 'newer', 3), (m) => m === '')).toBe('');
    const replicas = async (namespace: string, name: string) => (await apps.readNamespacedDeployment({ namespace, name })).spec?.replicas;
    const limitTo = (maxReplicas: number) =>
      custom.patchClusterCustomObject(
        { group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { spec: { limits: { maxReplicas } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await limitTo(4);
    await watchUntilPasses<KubernetesObject & { reason?: string; message?: string; involvedObject?: { name?: string } }>(kc, '/api/v1/namespaces/default/events', (all) => {
      const event = all.find((e) => e.involvedObject?.name === license && e.reason === 'BeyondLimit');
      expect(event?.message).toContain(`${b}/Deployment/newer`);
    }, 30_000);
    await watchUntilPasses<V1Deployment & KubernetesObject>(kc, `/apis/apps/v1/namespaces/${b}/deployments`, (all) => {
      const newer = all.find((d) => d.metadata?.name === 'newer');
      expect(newer?.spec?.replicas).toBe(0);
      expect(newer?.metadata?.annotations?.[REPLICAS_ANNOTATION]).toBe('3');
    }, 30_000);
    expect(await replicas(a!, 'older')).toBe(3);
    // Held: the tenant cannot scale it back up past the limit, and the operator does not restore it.
    expect(await scale(b!, 'newer', 3)).toContain('at most 4 replicas');
    expect((await ledgerOf(customer))?.spec.beyondAllowanceSince).toBeUndefined();
    await limitTo(6);
    await watchUntilPasses<V1Deployment & KubernetesObject>(kc, `/apis/apps/v1/namespaces/${b}/deployments`, (all) => {
      const newer = all.find((d) => d.metadata?.name === 'newer');
      expect(newer?.spec?.replicas).toBe(3);
      expect(newer?.metadata?.annotations?.[REPLICAS_ANNOTATION]).toBeUndefined();
    }, 30_000);
    expect(await replicas(a!, 'older')).toBe(3);
  });
});

describe('cheating', () => {
  it('a Pod with a forged controller reference still counts, and a tenant cannot drop the limits label of its namespace', async () => {
    const { namespaces: [a] } = await limitedCustomer(1, { limits: { maxReplicas: 1 } });
    expect(await create(a!, 'one', 1)).toBe('');
    const forged = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'forged', namespace: a!, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'one-abc', uid: '00000000-0000-0000-0000-000000000000', controller: true }] },
      spec: { containers: [{ name: 'c', image: IMAGE }] },
    };
    expect(await until(() => serverVerdict(kc, forged as never).then((v) => v.message), (m) => m !== '')).toContain('at most 1 replicas');
    // The tenant may edit its namespace object, but not the label that routes it to the limits webhook.
    const tenant = uniqueName('tenant');
    const role = uniqueName('ns-editor');
    await rbac.createClusterRole({ body: { metadata: { name: role }, rules: [{ apiGroups: [''], resources: ['namespaces'], resourceNames: [a!], verbs: ['get', 'patch', 'update'] }] } });
    await rbac.createClusterRoleBinding({ body: { metadata: { name: role }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: tenant }] } });
    const core = kc.makeApiClient(CoreV1Api);
    const unlabel = await until(
      () => core.patchNamespace({ name: a!, body: { metadata: { labels: { [LIMITS_LABEL]: null } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch, setHeaderOptions('Impersonate-User', tenant))).then(() => '', (e: unknown) => apiError(e).message),
      (m) => !m.includes('forbidden: User'),
    );
    expect(unlabel).toContain(`the label ${LIMITS_LABEL} is set only by the licensegate operator`);
  });
});

describe('namespace tokens', () => {
  it('Team, 2 tokens: a and b admitted (several in a), c refused naming the holders; scaling b to 0 frees its token for c', async () => {
    const { customer, namespaces: [a, b, c] } = await limitedCustomer(3, { limits: { concurrentNamespaces: 2 } });
    expect(await create(a!, 'one', 1)).toBe('');
    expect(await create(a!, 'two', 2)).toBe('');
    expect(await create(b!, 'one', 1)).toBe('');
    const refused = await create(c!, 'one', 1);
    expect(refused).toContain('all 2 namespace tokens');
    expect(refused).toContain(`${a}, ${b}`);
    expect((await ledgerOf(customer))?.spec.tokens?.map((t) => t.namespace).sort()).toEqual([a, b]);
    expect(await scale(b!, 'one', 0)).toBe('');
    await watchUntilPasses<Ledger>(kc, `/apis/${GROUP}/${VERSION}/ledgers`, (all) => {
      expect(all.find((l) => l.metadata.name === ledgerName(customer, app))?.spec.tokens?.map((t) => t.namespace)).toEqual([a]);
    }, 20_000);
    expect(await until(() => create(c!, 'one', 1), (m) => m === '')).toBe('');
  });

  it('Mono: a second running workload in the same namespace is refused', async () => {
    const { namespaces: [a] } = await limitedCustomer(1, { limits: { concurrentNamespaces: 2, tokenMode: 'Mono' } });
    expect(await create(a!, 'first', 1)).toBe('');
    expect(await until(() => create(a!, 'second', 1), (m) => m !== '')).toContain('Mono');
    // A stopped workload takes nothing.
    expect(await create(a!, 'stopped', 0)).toBe('');
  });

  it('race: 20 creates at once in 20 namespaces against 5 tokens, two webhook replicas: exactly 5 admitted, 10 times', async () => {
    const { customer, namespaces } = await limitedCustomer(20, { limits: { concurrentNamespaces: 5 } });
    const before = [...balancer.connections];
    for (let run = 0; run < 10; run++) {
      const results = await Promise.all(namespaces.map((ns) => create(ns, `race-${run}`, 1)));
      const admitted = namespaces.filter((_, i) => results[i] === '');
      expect({ run, admitted: admitted.length }).toEqual({ run, admitted: 5 });
      for (const r of results.filter((m) => m !== '')) expect(r).toContain('all 5 namespace tokens');
      // Free every token again for the next run: delete what was admitted, wait for the release.
      for (const ns of admitted) await apps.deleteNamespacedDeployment({ namespace: ns, name: `race-${run}` });
      await watchUntilPasses<Ledger>(kc, `/apis/${GROUP}/${VERSION}/ledgers`, (all) => {
        expect(all.find((l) => l.metadata.name === ledgerName(customer, app))?.spec.tokens ?? []).toEqual([]);
      }, 20_000);
    }
    // Both replicas answered.
    expect(balancer.connections.map((n, i) => n - before[i]!).every((n) => n > 0)).toBe(true);
  }, 300_000);
});

describe('seats', () => {
  async function grantDeployments(namespace: string, subjects: { kind: 'User' | 'Group'; name: string }[]) {
    const name = uniqueName('deployers');
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules: [{ apiGroups: ['apps'], resources: ['deployments', 'deployments/scale'], verbs: ['*'] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: subjects.map((s) => ({ apiGroup: 'rbac.authorization.k8s.io', ...s })) },
    });
  }
  const as = (user: string, group?: string) =>
    group ? setHeaderOptions('Impersonate-Group', group, setHeaderOptions('Impersonate-User', user)) : setHeaderOptions('Impersonate-User', user);

  it('assignees: a user and a group member are admitted, anyone else refused; removing the assignee refuses their next update', async () => {
    const alice = uniqueName('alice');
    const group = uniqueName('devs');
    const { license, namespaces: [a] } = await limitedCustomer(1, {
      limits: { seats: 2 },
      assignees: [{ kind: 'User', name: alice }, { kind: 'Group', name: group }],
    });
    await grantDeployments(a!, [{ kind: 'User', name: alice }, { kind: 'User', name: 'bob' }, { kind: 'Group', name: group }]);
    expect(await create(a!, 'alice', 1, as(alice))).toBe('');
    expect(await create(a!, 'bob', 1, as('bob'))).toContain('user bob holds no seat');
    expect(await create(a!, 'carol', 1, as('carol', group))).toBe('');
    await custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { spec: { assignees: [{ kind: 'Group', name: group }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(await until(() => setReplicas(a!, 'alice', 2, as(alice)), (m) => m !== '')).toContain(`user ${alice} holds no seat`);
    // Scaling down stays allowed, seat or not.
    expect(await setReplicas(a!, 'alice', 0, as(alice))).toBe('');
  });

  it('first use: seats fill up to the limit in the Ledger, then refuse; holders keep theirs', async () => {
    const { customer, namespaces: [a] } = await limitedCustomer(1, { limits: { seats: 2 } });
    const [u1, u2, u3] = [uniqueName('u1'), uniqueName('u2'), uniqueName('u3')];
    await grantDeployments(a!, [u1, u2, u3].map((name) => ({ kind: 'User' as const, name })));
    expect(await create(a!, 'u1', 1, as(u1))).toBe('');
    expect(await create(a!, 'u2', 1, as(u2))).toBe('');
    expect(await create(a!, 'u3', 1, as(u3))).toContain('all 2 seats');
    expect(await create(a!, 'u1-again', 1, as(u1))).toBe('');
    expect((await ledgerOf(customer))?.spec.seats?.map((s) => s.name).sort()).toEqual([u1, u2].sort());
  });
});

describe('banners', () => {
  const licenseOf = (name: string) => custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name }) as Promise<License>;
  const condition = (l: License, type: string) => l.status?.conditions?.find((c) => c.type === type)?.status;

  it('conditions and Events flip at 80 % and 100 %; the status ConfigMap is readable by a namespace user and shows the banner', async () => {
    const { license, namespaces: [a] } = await limitedCustomer(1, { limits: { maxReplicas: 5 } });
    expect(await create(a!, 'four', 4)).toBe('');
    await watchUntilPasses<License>(kc, `/apis/${GROUP}/${VERSION}/licenses`, (all) => {
      const l = all.find((x) => x.metadata.name === license)!;
      expect(l.status?.usage?.replicas).toBe(4);
      expect([condition(l, 'ApproachingLimit'), condition(l, 'LimitReached')]).toEqual(['True', 'False']);
    });
    // A tenant bound (in its namespace) to the chart's viewer role, which aggregates into view,
    // reads the banner. (The built-in view role gets aggregated rules from kube-controller-manager's
    // clusterrole-aggregation controller, which this test control plane does not run.)
    const viewer = uniqueName('viewer');
    await applyObjects(kc, [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: viewer }, rules: viewerRules() }], { fieldManager: 'test' });
    await rbac.createNamespacedRoleBinding({
      namespace: a!,
      body: { metadata: { name: viewer }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: viewer }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: viewer }] },
    });
    const core = kc.makeApiClient(CoreV1Api);
    // (A fresh RoleBinding takes a moment to reach the authorizer: until then the read is refused.)
    const banner = async () =>
      (await core.readNamespacedConfigMap({ name: STATUS_CONFIGMAP_NAME, namespace: a! }, setHeaderOptions('Impersonate-User', viewer)).then(
        (c) => c.data,
        (e: unknown): Record<string, string> => ({ banner: `unreadable: ${apiError(e).message}` }),
      )) ?? {};
    expect(await until(async () => (await banner()).banner ?? '', (b) => b.includes('4/5'))).toMatch(new RegExp(`^${license} \\(${app}\\): Active; maxReplicas 4/5 — WARNING: near the limit: maxReplicas`));
    expect(JSON.parse((await banner())['status.json']!).licenses[0]).toMatchObject({ license, usage: [{ limit: 'maxReplicas', used: 4, max: 5 }] });

    expect(await create(a!, 'fifth', 1)).toBe('');
    await watchUntilPasses<License>(kc, `/apis/${GROUP}/${VERSION}/licenses`, (all) => {
      expect(condition(all.find((x) => x.metadata.name === license)!, 'LimitReached')).toBe('True');
    });
    const events = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${license}` });
    expect(events.items.map((e) => e.reason)).toEqual(expect.arrayContaining(['ApproachingLimit', 'LimitReached']));
    expect((await licenseOf(license)).status?.conditions?.find((c) => c.type === 'LimitReached')?.message).toContain('maxReplicas 5/5');
  });

  it('a Free license without limits is refused by the API server', async () => {
    const refused = await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: uniqueName('free') }, spec: { customer: 'nobody', application: app, versions: ['*'], type: 'Free' } },
    ], { fieldManager: 'test' }).then(() => '', (e: unknown) => apiError(e).message);
    expect(refused).toContain('a Free license must carry limits');
    const accepted = await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: uniqueName('free') }, spec: { customer: 'nobody', application: app, versions: ['*'], type: 'Free', limits: { maxReplicas: 2 } } },
    ], { fieldManager: 'test' }).then(() => '', (e: unknown) => apiError(e).message);
    expect(accepted).toBe('');
  });
});

describe('the webhook down', () => {
  it('fails closed for limited customers (or open where they chose it); unlimited customers and version checks are unaffected', async () => {
    const closed = await limitedCustomer(1, { limits: { maxReplicas: 100 } });
    const open = await limitedCustomer(1, { limits: { maxReplicas: 100 } }, { enforcement: { limitsWebhook: 'FailOpen' } });
    const free = uniqueName('unlimited');
    await applyObjects(kc, [
      { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: free }, spec: {} },
      { apiVersion: API_VERSION, kind: 'License', metadata: { name: `${free}-lic` }, spec: { customer: free, application: app, versions: ['1.0.0'] } },
    ], { fieldManager: 'test' });
    await untilAdmission(async () => (await serverVerdict(kc, deploymentWith(free, 'probe', [IMAGE]))).allowed);
    for (const o of operators.splice(0)) await o.stop();
    expect((await serverVerdict(kc, deploymentWith(free, 'ok', [IMAGE]))).allowed).toBe(true);
    expect((await serverVerdict(kc, deploymentWith(free, 'old', [`${repo}:2.0.0`]))).message).toContain('is not licensed');
    expect((await serverVerdict(kc, deploymentWith(open.namespaces[0]!, 'ok', [IMAGE]))).allowed).toBe(true);
    const refused = await serverVerdict(kc, deploymentWith(closed.namespaces[0]!, 'ok', [IMAGE]));
    expect(refused.allowed).toBe(false);
    expect(refused.message).toContain('limits.licensegate.dev');
    await watchUntil(kc, '/api/v1/namespaces', () => true);
  });
});
