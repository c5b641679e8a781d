/**
 * The admission policy's Warn and Audit bindings and its UPDATE ratchet, through the real API
 * server. The policy skips requests unless an image is refused (a match condition, for cost):
 * these cases prove the skip changes no verdict, warning or ratchet.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, VERSION_POLICY_NAME, type VersionPolicySpec } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import { ADMISSION_LABEL, CUSTOMER_LABEL } from '../../src/vocabulary/labels.js';
import { deploymentWith, installAdmissionPolicy, podWith, serverVerdict, TEST_EXEMPT_USER, untilAdmission } from './admission-harness.js';
import { kubeConfig, uniqueName } from './context.js';

const kc = kubeConfig();
const REPO = 'registry.example.com/modes/api';
const spec = (customer: string, admission: VersionPolicySpec['admission']): VersionPolicySpec => ({
  customer,
  admission,
  repositories: { [REPO]: { allowedTags: ['1.0.0'], allowedDigests: [], licenses: ['lic-modes'] } },
});

/** A raw request, so the API server's Warning headers can be read (client-node drops them). */
async function send(method: string, path: string, body: unknown, user?: string): Promise<{ status: number; warnings: string[]; body: string }> {
  const server = new URL(kc.getCurrentCluster()!.server);
  const options: RequestOptions = { method, hostname: server.hostname, port: server.port, path, headers: { 'Content-Type': 'application/json' } };
  await kc.applyToHTTPSOptions(options);
  if (user) Object.assign(options.headers!, { 'Impersonate-User': user, 'Impersonate-Group': 'system:masters' });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(options, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => {
        const header = res.headers.warning;
        const warnings = (Array.isArray(header) ? header : header ? [header] : []).map((w) => w.replace(/^299 - "/, '').replace(/"$/, ''));
        resolve({ status: res.statusCode ?? 0, warnings, body: text });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const createPod = (ns: string, name: string, image: string) =>
  send('POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, podWith(ns, name, [image]));

describe('admission policy modes and ratchet', () => {
  const deny = uniqueName('modes-deny');
  const warn = uniqueName('modes-warn');
  const audit = uniqueName('modes-audit');

  beforeAll(async () => {
    await installAdmissionPolicy(kc);
    for (const [ns, mode] of [[deny, 'Deny'], [warn, 'Warn'], [audit, 'Audit']] as const) {
      await applyObjects(kc, [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [CUSTOMER_LABEL]: 'modes', [ADMISSION_LABEL]: mode } } },
        { apiVersion: API_VERSION, kind: 'VersionPolicy', metadata: { name: VERSION_POLICY_NAME, namespace: ns }, spec: spec('modes', mode) },
      ], { fieldManager: 'test' });
    }
    await untilAdmission(async () => !(await serverVerdict(kc, podWith(deny, 'probe', [`${REPO}:0.0.0`]))).allowed);
    await untilAdmission(async () => (await createPod(warn, 'probe', `${REPO}:0.0.0`)).warnings.length > 0);
  });

  it('Deny refuses, Warn admits with the refusal as a warning, Audit admits; a granted image gets no warning anywhere', async () => {
    const refused = await createPod(deny, 'p', `${REPO}:2.0.0`);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain(`licensegate: image ${REPO}:2.0.0 is not licensed for customer modes: license(s) lic-modes grant ${REPO} tags [1.0.0]`);

    const warned = await createPod(warn, 'p', `${REPO}:2.0.0`);
    expect(warned.status).toBe(201);
    expect(warned.warnings.join('\n')).toContain(`licensegate: image ${REPO}:2.0.0 is not licensed for customer modes`);

    const audited = await createPod(audit, 'p', `${REPO}:2.0.0`);
    expect(audited.status).toBe(201);
    expect(audited.warnings).toEqual([]);

    for (const ns of [deny, warn, audit]) {
      const granted = await createPod(ns, 'ok', `${REPO}:1.0.0`);
      expect(granted.status).toBe(201);
      expect(granted.warnings).toEqual([]);
    }
  });

  it('an unlicensed image already running may stay, but not be scaled up or joined by another', async () => {
    const name = 'legacy';
    const path = `/apis/apps/v1/namespaces/${deny}/deployments`;
    // Admitted before the license changed: created by the exempt identity.
    // The API server's policy cache may still hold the policy another file installed, exempting
    // another identity: retry until this file's exemption is in force.
    let created = await send('POST', path, deploymentWith(deny, name, [`${REPO}:0.9.0`], 2), TEST_EXEMPT_USER);
    for (let waited = 0; created.status === 403 && waited < 20_000; waited += 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      created = await send('POST', path, deploymentWith(deny, name, [`${REPO}:0.9.0`], 2), TEST_EXEMPT_USER);
    }
    expect(created.status, created.body).toBe(201);
    type Deployment = { spec: { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: { containers: { name: string; image: string }[] } } } };
    // Each update starts from the stored object (the deployment controller writes its status meanwhile).
    const update = async (change: (d: Deployment) => void) => {
      for (let attempt = 0; ; attempt++) {
        const next = JSON.parse((await send('GET', `${path}/${name}`, undefined)).body) as Deployment;
        change(next);
        const answer = await send('PUT', `${path}/${name}?dryRun=All`, next);
        if (answer.status !== 409 || attempt === 5) return answer;
      }
    };

    const relabelled = await update((d) => (d.spec.template.metadata.labels.team = 'blue'));
    expect(relabelled.status, relabelled.body).toBe(200);
    const down = await update((d) => (d.spec.replicas = 1));
    expect(down.status).toBe(200);

    const up = await update((d) => (d.spec.replicas = 3));
    expect(up.status).toBe(403);
    expect(up.body).toContain(`licensegate: image ${REPO}:0.9.0 is not licensed, so this workload may not be scaled up for customer modes`);

    const joined = await update((d) => d.spec.template.spec.containers.push({ name: 'c9', image: `${REPO}:0.8.0` }));
    expect(joined.status).toBe(403);
    expect(joined.body).toContain(`licensegate: image ${REPO}:0.8.0 is not licensed for customer modes`);

    const fixed = await update((d) => (d.spec.template.spec.containers[0]!.image = `${REPO}:1.0.0`));
    expect(fixed.status).toBe(200);
  });
});
