/**
 * The operator against a real API server: customer namespaces follow their licenses, by
 * watching, with no write when nothing changed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type CoreV1Event, PatchStrategy, setHeaderOptions, type V1Namespace, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type Customer, type License, type VersionPolicy } from '../../src/api/index.js';
import { applyObjects, readYamlObjects } from '../../src/kube/apply.js';
import { binaryCacheDir, readControlPlaneVersions } from '../../src/localcluster/index.js';
import { Reason } from '../../src/licensing/reasons.js';
import type { Operator } from '../../src/operator.js';
import { CUSTOMER_LABEL } from '../../src/vocabulary/labels.js';
import { pullSecretName } from '../../src/render/pullsecret.js';
import { kubeConfig, uniqueName } from './context.js';
import { examplesClock } from './examples-clock.js';
import { startOperator, watchUntil, watchUntilPasses } from './operator-harness.js';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const VP_PATH = `/apis/${GROUP}/${VERSION}/versionpolicies`;
const LICENSE_PATH = `/apis/${GROUP}/${VERSION}/licenses`;
const SECRET_PATH = '/api/v1/secrets';

const kubectl = (() => {
  const cached = join(binaryCacheDir(readControlPlaneVersions()), 'kubectl');
  return existsSync(cached) ? cached : 'kubectl';
})();

/** Tags granted for `repository` in each namespace's VersionPolicy, once every namespace has one. */
function tagsIn(namespaces: string[], repository: string) {
  return (policies: VersionPolicy[]) => {
    const found = namespaces.map((ns) => policies.find((p) => p.metadata.namespace === ns));
    if (found.some((p) => !p)) return undefined;
    return found.map((p) => p!.spec.repositories[repository]?.allowedTags ?? null);
  };
}

/** Waits until every namespace's policy grants exactly `tags` for `repository`. */
async function expectTags(namespaces: string[], repository: string, tags: string[]) {
  await watchUntil<VersionPolicy, true>(kc, VP_PATH, (policies) => {
    const all = tagsIn(namespaces, repository)(policies);
    return all?.every((t) => JSON.stringify(t) === JSON.stringify(tags)) ? true : undefined;
  });
}

async function patchLicense(name: string, spec: Record<string, unknown>) {
  await custom.patchClusterCustomObject(
    { group: GROUP, version: VERSION, plural: 'licenses', name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

async function ensureNamespace(name: string) {
  await applyObjects(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }], { fieldManager: 'test' });
}

/** An application with a catalogue, gated images, and optionally registry credentials. */
function application(name: string, versions: string[], registry?: { server: string; secret: string }) {
  return {
    apiVersion: API_VERSION,
    kind: 'Application',
    metadata: { name },
    spec: {
      images: [`registry.test.example/${name}/server`],
      versions: versions.map((version) => ({ version })),
      ...(registry ? { registry: { server: registry.server, credentialsSecret: { namespace: 'licensegate-system', name: registry.secret } } } : {}),
    },
  };
}

const customerObject = (name: string, namespaces: string[]) => ({ apiVersion: API_VERSION, kind: 'Customer', metadata: { name }, spec: { namespaces } });
const licenseObject = (name: string, customer: string, app: string, spec: Record<string, unknown>) => ({
  apiVersion: API_VERSION,
  kind: 'License',
  metadata: { name },
  spec: { customer, application: app, ...spec },
});

let operator: Operator;

beforeAll(async () => {
  await ensureNamespace('licensegate-system');
  operator = await startOperator(kc);
});

afterAll(async () => {
  await operator?.stop();
});

describe('examples/', () => {
  // The examples' dates are fixed: the operator reads them on a clock that starts where they do.
  beforeAll(async () => {
    await operator.stop();
    operator = await startOperator(kc, {}, examplesClock());
    const dir = join(import.meta.dirname, '..', '..', 'examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f));
    await applyObjects(kc, await readYamlObjects(files), { fieldManager: 'test' });
  });

  afterAll(async () => {
    await operator.stop();
    operator = await startOperator(kc);
  });

  it('give every License its phase and versions, and every customer namespace its VersionPolicy', async () => {
    const api = 'registry.acme.example/analytics/api';
    const proxy = 'registry.acme.example/gateway/proxy';
    await watchUntilPasses<License>(kc, LICENSE_PATH, (all) => {
      const byName = Object.fromEntries(all.map((l) => [l.metadata.name, l.status]));
      expect(byName['globex-analytics']).toMatchObject({ phase: 'Active', grantedVersions: ['2.4.1', '2.6.0'], effectiveExpiresAt: '2027-12-31T23:59:59Z' });
      expect(byName['globex-gateway']).toMatchObject({ phase: 'Active', grantedVersions: ['1.0.0', '1.1.0', '1.2.0', '2.0.0-rc.1'] });
      expect(byName['initech-analytics']).toMatchObject({ phase: 'Expired', grantedVersions: [] });
      expect(byName['umbrella-gateway-trial']).toMatchObject({ phase: 'Active', trialStartedAt: expect.any(String) });
      expect(byName['umbrella-analytics']?.grantedVersions).toEqual(['2.3.0', '2.4.0', '2.4.1', '2.5.0', '2.6.0']);
      for (const name of Object.keys(byName).filter((n) => /^(globex|initech|umbrella)-/.test(n))) {
        // Licenses with limits (globex-analytics, umbrella-analytics) also say how close they are.
        const limited = ['globex-analytics', 'umbrella-analytics'].includes(name);
        expect(byName[name]!.conditions!.map((c) => c.type)).toEqual(['Valid', 'Active', 'ExpiringSoon', ...(limited ? ['ApproachingLimit', 'LimitReached'] : [])]);
      }
    });
    await watchUntilPasses<VersionPolicy>(kc, VP_PATH, (all) => {
      const byNs = Object.fromEntries(all.map((p) => [p.metadata.namespace!, p.spec]));
      for (const ns of ['globex-prod', 'globex-staging']) {
        expect(byNs[ns]?.repositories[api]).toEqual({
          allowedTags: ['v2.4.1', 'v2.6.0'],
          allowedDigests: ['sha256:2f1c0ab2b7d1c1d1e9ac1a5f3e5c1e4b0d9a1f6e2b3c4d5e6f708192a3b4c5d6'],
          licenses: ['globex-analytics'],
        });
        expect(byNs[ns]!.repositories[proxy]!.allowedTags).toEqual(['1.0.0', '1.1.0', '1.2.0', '2.0.0-rc.1']);
      }
      // Initech's only license expired: its repositories are gated with nothing granted.
      expect(byNs.initech?.repositories[api]).toEqual({ allowedTags: [], allowedDigests: [], licenses: [] });
      expect(byNs.initech!.admission).toBe('Warn');
      expect(byNs.umbrella?.repositories[proxy]!.allowedTags).toEqual(['1.0.0', '1.1.0', '1.2.0']);
    });
  });

  it('write pull secrets only where a license is active, with the right credentials', async () => {
    const secrets = await watchUntil<V1Secret, V1Secret[]>(kc, SECRET_PATH, (all) => {
      const examples = ['globex-prod', 'globex-staging', 'initech', 'umbrella'];
      const owned = all.filter((s) => s.metadata?.name?.startsWith('licensegate-pull-') && examples.includes(s.metadata.namespace!));
      return owned.length >= 6 ? owned : undefined;
    });
    const names = secrets.map((s) => `${s.metadata!.namespace}/${s.metadata!.name}`).sort();
    expect(names).toEqual([
      'globex-prod/licensegate-pull-acme-analytics',
      'globex-prod/licensegate-pull-acme-gateway',
      'globex-staging/licensegate-pull-acme-analytics',
      'globex-staging/licensegate-pull-acme-gateway',
      'umbrella/licensegate-pull-acme-analytics',
      'umbrella/licensegate-pull-acme-gateway',
    ]);
    const config = (s: V1Secret) => JSON.parse(Buffer.from(s.data!['.dockerconfigjson']!, 'base64').toString());
    const gateway = secrets.find((s) => s.metadata!.name === 'licensegate-pull-acme-gateway' && s.metadata!.namespace === 'globex-prod')!;
    expect(config(gateway).auths['registry.acme.example'].username).toBe('enterprise-puller');
    const analytics = secrets.find((s) => s.metadata!.name === 'licensegate-pull-acme-analytics' && s.metadata!.namespace === 'umbrella')!;
    expect(config(analytics).auths['registry.acme.example'].username).toBe('acme-puller');
  });

  it('make `kubectl get lic` readable', async () => {
    await watchUntil<License, true>(kc, LICENSE_PATH, (all) => (all.find((l) => l.metadata.name === 'initech-analytics')?.status?.versions ? true : undefined));
    const out = execFileSync(kubectl, ['--kubeconfig', inject('kubeconfig'), 'get', 'lic', 'globex-analytics', 'globex-gateway', 'initech-analytics'], { encoding: 'utf8' });
    const [header, ...rows] = out.trim().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['NAME', 'CUSTOMER', 'APPLICATION', 'VERSIONS', 'PHASE', 'EXPIRES', 'AGE']);
    expect(rows.find((r) => r.startsWith('globex-analytics'))).toMatch(/globex\s+acme-analytics\s+2.4.1, >=2.5.0 <3.0.0\s+Active\s+2027-12-31T23:59:59Z/);
    expect(rows.find((r) => r.startsWith('initech-analytics'))).toMatch(/Expired/);
  });
});

describe('edits', () => {
  const app = uniqueName('edits-app');
  const customer = uniqueName('edits-cust');
  const namespaces = [`${customer}-a`, `${customer}-b`];
  const license = uniqueName('edits-lic');
  const repo = `registry.test.example/${app}/server`;

  beforeAll(async () => {
    await applyObjects(kc, [
      application(app, ['1.0.0', '1.1.0', '1.2.0', '2.0.0']),
      customerObject(customer, namespaces),
      licenseObject(license, customer, app, { versions: ['1.0.0'] }),
    ], { fieldManager: 'test' });
    await expectTags(namespaces, repo, ['1.0.0']);
  });

  it('adding a version grants it in every namespace', async () => {
    await patchLicense(license, { versions: ['1.0.0', '1.1.0'] });
    await expectTags(namespaces, repo, ['1.0.0', '1.1.0']);
  });

  it('changing to a range grants what the catalogue has in it', async () => {
    await patchLicense(license, { versions: ['>=1.0.0 <2.0.0'] });
    await expectTags(namespaces, repo, ['1.0.0', '1.1.0', '1.2.0']);
  });

  it('revoking a version withdraws it and records an Event', async () => {
    await patchLicense(license, { revokedVersions: ['1.1.0'] });
    await expectTags(namespaces, repo, ['1.0.0', '1.2.0']);
    await watchUntilPasses<CoreV1Event>(kc, '/api/v1/namespaces/default/events', (events) => {
      const mine = events.filter((e) => e.involvedObject.name === license);
      expect(mine.map((e) => e.reason)).toContain('VersionRevoked');
      expect(mine.find((e) => e.reason === 'VersionRevoked')!.message).toContain('1.1.0');
    });
  });

  it('suspending withdraws everything; resuming restores it', async () => {
    await patchLicense(license, { suspended: true });
    await expectTags(namespaces, repo, []);
    const status = await watchUntil<License, License['status']>(kc, LICENSE_PATH, (all) => {
      const s = all.find((l) => l.metadata.name === license)?.status;
      return s?.phase === 'Suspended' ? s : undefined;
    });
    expect(status?.conditions?.find((c) => c.type === 'Active')).toMatchObject({ status: 'False', reason: Reason.Suspended });
    await patchLicense(license, { suspended: false });
    await expectTags(namespaces, repo, ['1.0.0', '1.2.0']);
  });

  it('a new release in the catalogue that the range covers is granted', async () => {
    await applyObjects(kc, [application(app, ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '2.0.0'])], { fieldManager: 'test' });
    await expectTags(namespaces, repo, ['1.0.0', '1.2.0', '1.3.0']);
  });

  it('a namespace added to the customer gets the policy too', async () => {
    const extra = `${customer}-c`;
    await applyObjects(kc, [customerObject(customer, [...namespaces, extra])], { fieldManager: 'test' });
    await expectTags([extra], repo, ['1.0.0', '1.2.0', '1.3.0']);
    const ns = await core.readNamespace({ name: extra });
    expect(ns.metadata?.labels?.[CUSTOMER_LABEL]).toBe(customer);
  });
});

describe('expiry', () => {
  const app = uniqueName('exp-app');
  const customer = uniqueName('exp-cust');
  const license = uniqueName('exp-lic');
  const secret = uniqueName('exp-creds');
  const repo = `registry.test.example/${app}/server`;

  it('takes grants and the pull secret away within 2 s of expiresAt, and gives them back on renewal', async () => {
    const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 4000);
    await applyObjects(kc, [
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret, namespace: 'licensegate-system' }, type: 'kubernetes.io/basic-auth', stringData: { username: 'u', password: 'p' } },
      application(app, ['1.0.0'], { server: 'registry.test.example', secret }),
      customerObject(customer, [customer]),
      licenseObject(license, customer, app, { versions: ['1.0.0'], expiresAt: expiresAt.toISOString().replace('.000Z', 'Z') }),
    ] as never, { fieldManager: 'test' });
    await expectTags([customer], repo, ['1.0.0']);
    await watchUntil<V1Secret, true>(kc, `/api/v1/namespaces/${customer}/secrets`, (all) => (all.some((s) => s.metadata?.name === pullSecretName(app)) ? true : undefined));

    await watchUntil<V1Secret, true>(kc, `/api/v1/namespaces/${customer}/secrets`, (all) => (all.some((s) => s.metadata?.name === pullSecretName(app)) ? undefined : true), 10_000);
    await expectTags([customer], repo, []);
    const lateByMs = Date.now() - expiresAt.getTime();
    expect(lateByMs).toBeLessThan(2000);

    await patchLicense(license, { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    await expectTags([customer], repo, ['1.0.0']);
    await watchUntil<V1Secret, true>(kc, `/api/v1/namespaces/${customer}/secrets`, (all) => (all.some((s) => s.metadata?.name === pullSecretName(app)) ? true : undefined));
  });
});

describe('deletion', () => {
  const app = uniqueName('del-app');
  const customer = uniqueName('del-cust');
  const existing = uniqueName('del-existing');
  const created = `${customer}-new`;
  const license = uniqueName('del-lic');
  const secret = uniqueName('del-creds');

  beforeAll(async () => {
    await ensureNamespace(existing);
    await applyObjects(kc, [
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret, namespace: 'licensegate-system' }, type: 'kubernetes.io/basic-auth', stringData: { username: 'u', password: 'p' } },
      application(app, ['1.0.0'], { server: 'registry.test.example', secret }),
      customerObject(customer, [existing, created]),
      licenseObject(license, customer, app, { versions: ['*'] }),
    ] as never, { fieldManager: 'test' });
    await expectTags([existing, created], `registry.test.example/${app}/server`, ['1.0.0']);
  });

  const owned = (all: (V1Secret | VersionPolicy)[]) => all.filter((o) => o.metadata?.labels?.[CUSTOMER_LABEL] === customer);

  it('deleting a License removes its pull secrets and grants', async () => {
    await watchUntil<V1Secret, true>(kc, SECRET_PATH, (all) => (owned(all).length === 2 ? true : undefined));
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name: license });
    await watchUntil<V1Secret, true>(kc, SECRET_PATH, (all) => (owned(all).length === 0 ? true : undefined));
    await expectTags([existing, created], `registry.test.example/${app}/server`, []);
  });

  it('deleting a Customer removes everything written for it and deletes no namespace', async () => {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'customers', name: customer });
    await watchUntil<VersionPolicy, true>(kc, VP_PATH, (all) => (owned(all).length === 0 ? true : undefined));
    await watchUntil<V1Namespace, true>(kc, '/api/v1/namespaces', (all) => {
      const mine = all.filter((ns) => [existing, created].includes(ns.metadata!.name!));
      return mine.length === 2 && mine.every((ns) => !ns.metadata?.labels?.[CUSTOMER_LABEL] && !ns.metadata?.deletionTimestamp) ? true : undefined;
    });
    // The finalizer goes last, once everything else is cleaned up.
    await watchUntil<Customer, true>(kc, `/apis/${GROUP}/${VERSION}/customers`, (all) => (all.some((c) => c.metadata.name === customer) ? undefined : true));
  });
});

describe('restart', () => {
  it('a converged cluster costs a restarted operator zero writes', async () => {
    await operator.whenIdle();
    await operator.stop();
    operator = await startOperator(kc);
    await operator.whenIdle();
    const breakdown = await operator.metrics.registry.getSingleMetricAsString('licensegate_api_writes_total');
    expect(operator.writer.writes, breakdown).toBe(0);
  });
});
