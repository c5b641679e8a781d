/**
 * The generated CRDs on a real API server: installed, explained, refusing each kind of
 * mistake with a message that names the field, and accepting every example.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, VERSION } from '../../src/api/index.js';
import { applyObjects, readYamlObjects } from '../../src/kube/apply.js';
import { apiError } from '../../src/kube/errors.js';
import { kubeConfig, uniqueName } from './context.js';

const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const plural: Record<string, string> = { Application: 'applications', Customer: 'customers', License: 'licenses' };

async function create(kind: string, spec: Record<string, unknown>, name = uniqueName(kind.toLowerCase())) {
  return custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: plural[kind]!,
    body: { apiVersion: API_VERSION, kind, metadata: { name }, spec },
  });
}

/** Creates the object and returns the API server's refusal message ('' if it was accepted). */
async function refusal(kind: string, spec: Record<string, unknown>, name?: string): Promise<string> {
  try {
    await create(kind, spec, name);
    return '';
  } catch (error) {
    const { code, message } = apiError(error);
    expect(code).toBe(422);
    return message;
  }
}

const license = (extra: Record<string, unknown>) => ({ customer: 'acme', application: 'app', versions: ['1.0.0'], ...extra });
const app = (extra: Record<string, unknown>) => ({ images: ['registry.example.com/acme/api'], ...extra });

const mistakes: [string, string, Record<string, unknown>, string, string][] = [
  // [what, kind, spec, field named in the message, part of the fix it suggests]
  ['a malformed semver range', 'License', license({ versions: ['>=>1.0'] }), 'spec.versions[0]', 'semver range'],
  ['no versions at all', 'License', license({ versions: [] }), 'spec.versions', 'at least 1'],
  ['expiresAt before notBefore', 'License', license({ notBefore: '2027-01-01T00:00:00Z', expiresAt: '2026-01-01T00:00:00Z' }), 'spec.expiresAt', 'later than notBefore'],
  ['expiresAt that is not a time', 'License', license({ expiresAt: 'next year' }), 'spec.expiresAt', 'date-time'],
  ['an unknown license type', 'License', license({ type: 'Enterprise' }), 'spec.type', 'Commercial'],
  ['a negative replica limit', 'License', license({ limits: { maxReplicas: -1 } }), 'spec.limits.maxReplicas', '0'],
  ['a negative seat count', 'License', license({ limits: { seats: -3 } }), 'spec.limits.seats', '0'],
  ['an empty customer', 'License', license({ customer: '' }), 'spec.customer', 'at least 1'],
  ['an uppercase customer name', 'License', license({ customer: 'ACME' }), 'spec.customer', 'DNS-1123'],
  ['a missing application', 'License', { customer: 'acme', versions: ['1.0.0'] }, 'spec.application', 'Required'],
  ['a bad grace period', 'License', license({ gracePeriod: '3 days' }), 'spec.gracePeriod', '72h'],
  ['a revoked range instead of a version', 'License', license({ revokedVersions: ['2.x'] }), 'spec.revokedVersions[0]', 'semantic version'],
  ['trialDays on a commercial license', 'License', license({ trialDays: 30 }), 'spec.trialDays', 'Trial'],
  ['more assignees than seats', 'License', license({ limits: { seats: 1 }, assignees: [{ kind: 'User', name: 'a' }, { kind: 'User', name: 'b' }] }), 'spec.assignees', 'no more assignees than seats'],
  ['a token mode without tokens', 'License', license({ limits: { tokenMode: 'Mono' } }), 'spec.limits.tokenMode', 'concurrentNamespaces'],
  ['credentials without a name', 'License', license({ registryCredentialsSecret: { namespace: 'licensegate-system' } }), 'spec.registryCredentialsSecret.name', 'Required'],
  ['an image repository carrying a tag', 'Application', app({ images: ['registry.example.com/acme/api:2.4.1'] }), 'spec.images[0]', 'without tag or digest'],
  ['no images', 'Application', app({ images: [] }), 'spec.images', 'at least 1'],
  ['a catalogue version that is not semver', 'Application', app({ versions: [{ version: 'v1.2' }] }), 'spec.versions[0].version', 'no leading "v"'],
  ['the same version twice', 'Application', app({ versions: [{ version: '1.0.0' }, { version: '1.0.0' }] }), 'spec.versions[1]', 'Duplicate'],
  ['a tag format without the placeholder', 'Application', app({ tagFormat: 'latest' }), 'spec.tagFormat', '{version}'],
  ['a malformed digest', 'Application', app({ versions: [{ version: '1.0.0', digests: { 'registry.example.com/acme/api': 'sha256:xyz' } }] }), 'spec.versions[0].digests', 'sha256:[a-f0-9]{64}'],
  ['a registry server left empty', 'Application', app({ registry: { server: '', credentialsSecret: { namespace: 'licensegate-system', name: 'creds' } } }), 'spec.registry.server', 'at least 1'],
  ['an unknown admission mode', 'Customer', { enforcement: { admission: 'Block' } }, 'spec.enforcement.admission', 'Deny'],
  ['an unknown violation action', 'Customer', { enforcement: { onViolation: 'Evict' } }, 'spec.enforcement.onViolation', 'ScaleToZero'],
  ['a system namespace', 'Customer', { namespaces: ['kube-system'] }, 'spec.namespaces', 'kube-* namespace'],
  ['an invalid namespace name', 'Customer', { namespaces: ['Acme_Prod'] }, 'spec.namespaces[0]', 'DNS-1123 label'],
];

describe('CRDs on the API server', () => {
  it('explain shows the schema description of license.spec.versions', () => {
    const out = execFileSync('kubectl', ['--kubeconfig', inject('kubeconfig'), 'explain', 'license.spec.versions'], { encoding: 'utf8' });
    expect(out).toContain('Ranges resolve against the application');
  });

  it.each(mistakes)('refuse %s, naming the field', async (_what, kind, spec, field, hint) => {
    const message = await refusal(kind, spec);
    expect(message).toContain(field);
    expect(message).toContain(hint);
  });

  it('refuse a license that requires itself', async () => {
    const name = uniqueName('self-requiring');
    const message = await refusal('License', license({ requires: [name] }), name);
    expect(message).toContain('spec.requires');
    expect(message).toContain('cannot require itself');
  });

  it('refuse moving a license to another customer', async () => {
    const name = uniqueName('immutable');
    await create('License', license({}), name);
    const patch = { spec: { customer: 'someone-else' } };
    const error = await custom
      .patchClusterCustomObject({ group: GROUP, version: VERSION, plural: 'licenses', name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
      .then(() => undefined, (e: unknown) => apiError(e));
    expect(error?.message).toContain('customer is immutable');
  });

  it('fill in defaults', async () => {
    const created = (await create('License', license({}))) as { spec: Record<string, unknown> };
    expect(created.spec).toMatchObject({ type: 'Commercial', suspended: false });
    const customer = (await create('Customer', {})) as { spec: Record<string, unknown> };
    expect(customer.spec.enforcement).toEqual({ admission: 'Deny', onViolation: 'ScaleToZero' });
  });
});

describe('examples/', () => {
  let objects: KubernetesObject[];
  beforeAll(async () => {
    const dir = join(import.meta.dirname, '..', '..', 'examples');
    objects = await readYamlObjects(readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, f)));
    // Namespaces are created for real so that dry runs of the objects inside them can succeed.
    await applyObjects(kc, objects.filter((o) => o.kind === 'Namespace'));
  });

  it('every example object is accepted by the API server', async () => {
    const accepted = await applyObjects(kc, objects.filter((o) => o.kind !== 'Namespace'), { dryRun: true });
    expect(accepted.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(
      objects.filter((o) => o.kind !== 'Namespace').map((o) => `${o.kind}/${o.metadata?.name}`),
    );
  });
});

