import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { gateCredentialsByLicense, gatedLicenses, renderGateCredentials } from '../../../src/render/gatecredentials.js';
import { planCustomer } from '../../../src/render/plan.js';
import { pullSecretName } from '../../../src/render/pullsecret.js';
import { gateCredentialsLicense, gateCredentialsSecretName } from '../../../src/vocabulary/gate.js';
import { application, basicAuthSecret, customer, license, NOW, OPERATOR_NAMESPACE, readDockerConfig, REGISTRY } from '../fixtures.js';

const GATE = 'gate.acme.example';
const UPSTREAM = { namespace: OPERATOR_NAMESPACE, name: 'acme-registry' };
const gated = application('analytics', { images: [`${GATE}/analytics/api`], versions: [{ version: '1.0.0' }], registry: { server: REGISTRY, credentialsSecret: UPSTREAM, gate: { host: GATE } } });
const plain = application('analytics', { images: [`${REGISTRY}/analytics/api`], versions: [{ version: '1.0.0' }], registry: { server: REGISTRY, credentialsSecret: UPSTREAM } });

describe('gate credentials', () => {
  it('exist for licenses of gated applications only', () => {
    const other = application('tools', { images: ['acme/tools'] });
    expect(gatedLicenses([license('a'), license('b', { application: 'tools' })], [gated, other])).toEqual(new Set(['a']));
  });

  it('are a basic-auth Secret owned by the License, named and annotated so the gate can find it', () => {
    const l = license('acme-lic');
    l.metadata.uid = 'uid-1';
    const secret = renderGateCredentials(l, OPERATOR_NAMESPACE, 'tok');
    expect(secret).toMatchObject({
      type: 'kubernetes.io/basic-auth',
      metadata: { name: 'licensegate-gate-acme-lic', namespace: OPERATOR_NAMESPACE, ownerReferences: [{ kind: 'License', name: 'acme-lic', uid: 'uid-1' }] },
    });
    expect(gateCredentialsLicense(secret)).toBe('acme-lic');
    expect(gateCredentialsByLicense([secret, { metadata: { name: 'licensegate-gate-x', labels: {} } } as V1Secret]).size).toBe(1);
  });

  it('have names within Secret limits that never collide for long license names', () => {
    const a = `${'a'.repeat(240)}-one`;
    const b = `${'a'.repeat(240)}-two`;
    expect(gateCredentialsSecretName(a).length).toBeLessThanOrEqual(253);
    expect(gateCredentialsSecretName(a)).not.toBe(gateCredentialsSecretName(b));
  });
});

describe('pull secrets behind a gate', () => {
  const world = (app = gated, gateCredentials = new Map([['acme-lic', basicAuthSecret('acme-lic', 'gate-token')]])) => ({
    now: NOW,
    customerName: 'globex',
    customer: customer('globex'),
    applications: [app],
    licenses: [license('acme-lic', { versions: ['1.0.0'] })],
    credentials: new Map([[`${UPSTREAM.namespace}/${UPSTREAM.name}`, basicAuthSecret('vendor', 'vendor-secret')]]),
    namespaceOwners: new Map<string, string>(),
    gateCredentials,
  });

  it('carry the license\'s gate credentials for the gate host, never the vendor\'s', () => {
    const plan = planCustomer(world());
    const secret = plan.objects.find((o) => o.metadata?.name === pullSecretName('analytics')) as V1Secret;
    const config = readDockerConfig(secret.data?.['.dockerconfigjson']);
    expect(Object.keys(config.auths)).toEqual([GATE]);
    expect(config.auths[GATE]).toMatchObject({ username: 'acme-lic', password: 'gate-token' });
    expect(JSON.stringify(plan.objects)).not.toContain(Buffer.from('vendor-secret').toString('base64'));
  });

  it('wait (Ready False, no secret) until the gate credentials exist', () => {
    const plan = planCustomer(world(gated, new Map()));
    expect(plan.objects.some((o) => o.metadata?.name === pullSecretName('analytics'))).toBe(false);
    expect(plan.customerStatus?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialsUnavailable' });
  });

  it('without a gate, stay as before: the vendor\'s credentials for the registry', () => {
    const plan = planCustomer(world(plain));
    const config = readDockerConfig((plan.objects.find((o) => o.metadata?.name === pullSecretName('analytics')) as V1Secret).data?.['.dockerconfigjson']);
    expect(config.auths[REGISTRY]).toMatchObject({ username: 'vendor', password: 'vendor-secret' });
  });
});
