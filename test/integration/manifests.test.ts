/**
 * manifests/ against a real API server: every object validates (schemas, CEL of the admission
 * policies, RBAC rules) in a server-side dry run. The chart, which a unit test holds to the
 * same content, is installed for real in helm.test.ts.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyObjects, readYamlObjects } from '../../src/kube/apply.js';
import { DEFAULT_NAMESPACE } from '../../src/manifests/names.js';
import { kubeConfig } from './context.js';

const kc = kubeConfig();

describe('manifests/', () => {
  it('is accepted by the API server, object by object, in file order', async () => {
    const dir = join(import.meta.dirname, '..', '..', 'manifests');
    const objects = await readYamlObjects(readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f)));
    // A dry run stores nothing, so the namespace the rest goes into must exist for real.
    await applyObjects(kc, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEFAULT_NAMESPACE } }], { fieldManager: 'test' });
    const accepted = await applyObjects(kc, objects, { dryRun: true, fieldManager: 'test-manifests' });
    expect(accepted.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(objects.map((o) => `${o.kind}/${o.metadata?.name}`));
    expect(objects.filter((o) => o.kind === 'ValidatingAdmissionPolicy').length).toBeGreaterThanOrEqual(3);
  });
});
