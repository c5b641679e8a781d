/**
 * The Helm chart and the plain manifests are two ways to install the same thing: with the
 * chart's defaults they must agree on RBAC, images, the operator's settings and the admission
 * policies, and both must carry what the operator itself would render. Needs helm
 * (test/controlplane/build-helm.sh); without it these tests fail and say how to get it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OPERATOR_USERNAME, renderAdmissionObjects } from '../../../src/enforcement/policy.js';
import { renderProtectionObjects } from '../../../src/enforcement/protection.js';
import { WEBHOOK_CONFIGURATION_NAME } from '../../../src/enforcement/webhook-config.js';
import { APP_VERSION, DEFAULT_IMAGE, DEFAULT_NAMESPACE, operatorUsername } from '../../../src/manifests/names.js';
import { helm } from '../../helm-binary.js';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const root = join(import.meta.dirname, '..', '..', '..');
const chartDir = join(root, 'charts', 'licensegate');

const parseAll = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((o) => o && o.kind);

function template(namespace: string, set: string[] = []): Obj[] {
  return parseAll(helm(['template', 'licensegate', chartDir, '--namespace', namespace, ...set.flatMap((s) => ['--set', s])]));
}

const manifests: Obj[] = readdirSync(join(root, 'manifests'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) => parseAll(readFileSync(join(root, 'manifests', f), 'utf8')));

const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const ofKinds = (objects: Obj[], kinds: string[]) => new Map(objects.filter((o) => kinds.includes(o.kind)).map((o) => [key(o), o]));
/** An object without its labels (which differ by install method on purpose). */
const unlabelled = ({ metadata: { labels: _labels, ...metadata }, ...rest }: Obj) => ({ ...rest, metadata });

const RBAC = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
const ADMISSION = ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'ValidatingWebhookConfiguration'];

describe('helm lint', () => {
  it('passes with the defaults and with every optional part on', () => {
    expect(helm(['lint', chartDir, '--strict', '--namespace', DEFAULT_NAMESPACE])).toContain('0 chart(s) failed');
    const everything = ['webhook.enabled=true', 'admission.engine=webhook', 'metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true', 'image.digest=sha256:' + 'a'.repeat(64)];
    expect(helm(['lint', chartDir, '--strict', ...everything.flatMap((s) => ['--set', s])])).toContain('0 chart(s) failed');
  });

  it('rejects values the operator cannot run with', () => {
    expect(() => template('x', ['admission.engine=webhook', 'webhook.enabled=false'])).toThrow(/webhook\/enabled/);
    expect(() => template('x', ['replicaCount=2', 'leaderElection.enabled=false'])).toThrow(/leaderElection\/enabled/);
    expect(() => template('x', ['serviceAccount.name=Not_A_Name'])).toThrow(/serviceAccount\/name/);
  });
});

describe('the chart with its defaults and manifests/', () => {
  const chart = template(DEFAULT_NAMESPACE);

  it('have the same RBAC: roles, rules, bindings and subjects', () => {
    const fromChart = ofKinds(chart, RBAC);
    const fromManifests = ofKinds(manifests, RBAC);
    expect([...fromChart.keys()].sort()).toEqual([...fromManifests.keys()].sort());
    for (const [k, o] of fromManifests) expect(unlabelled(fromChart.get(k)!), k).toEqual(unlabelled(o));
    // The aggregation labels are behaviour, not decoration.
    const viewer = (objects: Map<string, Obj>) => objects.get('ClusterRole//licensegate-versionpolicy-viewer')!.metadata.labels;
    expect(viewer(fromChart)).toMatchObject({ 'rbac.authorization.k8s.io/aggregate-to-view': 'true' });
    expect(viewer(fromManifests)).toMatchObject({ 'rbac.authorization.k8s.io/aggregate-to-view': 'true' });
  });

  it('have the same admission policies and bindings', () => {
    const fromChart = ofKinds(chart, ADMISSION);
    const fromManifests = ofKinds(manifests, ADMISSION);
    expect([...fromChart.keys()].sort()).toEqual([...fromManifests.keys()].sort());
    for (const [k, o] of fromManifests) expect(unlabelled(fromChart.get(k)!), k).toEqual(unlabelled(o));
  });

  it('exempt the ServiceAccount the operator assumes by default, as it would render the policies itself', () => {
    const expected = [...renderAdmissionObjects(), ...renderProtectionObjects({ exemptUsernames: [DEFAULT_OPERATOR_USERNAME] })];
    expect(operatorUsername(DEFAULT_NAMESPACE)).toBe(DEFAULT_OPERATOR_USERNAME);
    const fromManifests = ofKinds(manifests, ADMISSION);
    for (const o of expected) expect(unlabelled(fromManifests.get(key(o as Obj))!), key(o as Obj)).toEqual(unlabelled(o as Obj));
  });

  it('run the same image with the same settings, probes and security context', () => {
    const deployment = (objects: Obj[]) => objects.find((o) => o.kind === 'Deployment')!;
    const [a, b] = [deployment(chart), deployment(manifests)];
    const container = (d: Obj) => d.spec.template.spec.containers[0];
    expect(container(a).image).toBe(DEFAULT_IMAGE);
    expect(container(b).image).toBe(DEFAULT_IMAGE);
    expect(DEFAULT_IMAGE).toBe(`ghcr.io/licensegate/licensegate:${APP_VERSION}`);
    expect(a.spec.replicas).toBe(2);
    expect(b.spec.replicas).toBe(2);
    expect(container(a).env).toEqual(container(b).env);
    expect(container(a).resources).toEqual(container(b).resources);
    expect(container(a).securityContext).toEqual(container(b).securityContext);
    expect(a.spec.template.spec.securityContext).toEqual(b.spec.template.spec.securityContext);
    for (const d of [a, b]) {
      const c = container(d);
      expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect([c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path]).toEqual(['/healthz', '/readyz']);
      expect(Object.fromEntries(c.env.map((e: { name: string; value?: string }) => [e.name, e.value]))).toMatchObject({
        LICENSEGATE_LEADER_ELECTION: 'true',
        LICENSEGATE_INSTALL_ADMISSION_POLICY: 'false',
        LICENSEGATE_WEBHOOK: 'true',
      });
      expect(d.spec.template.spec.serviceAccountName).toBe('licensegate');
      expect(d.spec.template.spec.automountServiceAccountToken).toBe(true);
    }
  });

  it('put every namespaced object into the operator namespace', () => {
    for (const objects of [chart, manifests]) {
      const namespaced = objects.filter((o) => o.metadata.namespace !== undefined);
      expect(namespaced.length).toBeGreaterThan(5);
      for (const o of namespaced) expect(o.metadata.namespace, key(o)).toBe(DEFAULT_NAMESPACE);
    }
  });

  it('ship the CRDs as npm run generate wrote them (the chart in crds/, the manifests first)', () => {
    const crds = readdirSync(join(root, 'crds')).sort().map((f) => parse(readFileSync(join(root, 'crds', f), 'utf8')) as Obj);
    expect(manifests.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual(crds);
    expect(manifests.slice(0, crds.length).every((o) => o.kind === 'CustomResourceDefinition')).toBe(true);
    expect(readdirSync(join(chartDir, 'crds')).sort()).toEqual(readdirSync(join(root, 'crds')).sort());
  });
});

describe('the chart', () => {
  it('exempts its own ServiceAccount in the release namespace, exactly as the operator would render the policies', () => {
    const chart = template('vendor-ops', ['serviceAccount.name=gatekeeper']);
    const user = operatorUsername('vendor-ops', 'gatekeeper');
    const expected = [...renderAdmissionObjects({ exemptUsernames: [user] }), ...renderProtectionObjects({ exemptUsernames: [user] })];
    const rendered = ofKinds(chart, ADMISSION);
    for (const o of expected) expect(unlabelled(rendered.get(key(o as Obj))!), key(o as Obj)).toEqual(unlabelled(o as Obj));
    const binding = chart.find((o) => o.kind === 'ClusterRoleBinding' && o.metadata.name === 'licensegate')!;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'gatekeeper', namespace: 'vendor-ops' }]);
    const confinement = rendered.get('ValidatingAdmissionPolicy//licensegate-confine-operator')!;
    expect(confinement.spec.matchConditions[0].expression).toBe(`request.userInfo.username == '${user}'`);
  });

  it('keeps the version check out of the API server when the webhook is the engine', () => {
    const chart = template('lg', ['webhook.enabled=true', 'admission.engine=webhook']);
    const names = chart.map(key);
    expect(names).not.toContain('ValidatingAdmissionPolicy//licensegate-versions');
    expect(names).toContain('ValidatingAdmissionPolicy//licensegate-protect-owned');
    const webhook = chart.find((o) => o.kind === 'ValidatingWebhookConfiguration')!;
    expect(webhook.metadata.name).toBe(WEBHOOK_CONFIGURATION_NAME);
    expect(webhook.webhooks.map((w: { name: string }) => w.name)).toEqual(['scale.licensegate.dev', 'limits.licensegate.dev', 'limits-open.licensegate.dev', 'workloads.licensegate.dev']);
    for (const w of webhook.webhooks) {
      const path = w.name.startsWith('limits') ? '/limits' : '/validate';
      expect(w.clientConfig).toEqual({ service: { namespace: 'lg', name: 'licensegate-webhook', path, port: 443 } });
    }
    expect(names).toContain('Service/lg/licensegate-webhook');
    // The operator keeps the caBundle of the chart's configuration current: get/patch on that one object only.
    const role = chart.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'licensegate-webhook')!;
    expect(role.rules).toEqual([
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations'], resourceNames: ['licensegate'], verbs: ['get', 'patch'] },
    ]);
  });

  it('grants the operator no write access to admission objects, RBAC or CRDs', () => {
    const roles = template('lg', ['webhook.enabled=true']).filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    const write = ['create', 'update', 'patch', 'delete', 'deletecollection', '*', 'bind', 'escalate', 'impersonate'];
    for (const role of roles.filter((r) => r.metadata.name !== 'licensegate-webhook')) {
      for (const rule of role.rules) {
        expect(rule.apiGroups, role.metadata.name).not.toContain('*');
        expect(rule.resources, role.metadata.name).not.toContain('*');
        expect(rule.verbs, role.metadata.name).not.toContain('*');
        if (rule.verbs.some((v: string) => write.includes(v))) {
          expect(rule.apiGroups, JSON.stringify(rule)).not.toContain('admissionregistration.k8s.io');
          expect(rule.apiGroups, JSON.stringify(rule)).not.toContain('rbac.authorization.k8s.io');
          expect(rule.apiGroups, JSON.stringify(rule)).not.toContain('apiextensions.k8s.io');
        }
      }
    }
  });

  it('renders the optional ServiceMonitor, and pins the image by digest when asked', () => {
    const digest = 'sha256:' + 'b'.repeat(64);
    const chart = template('lg', ['metrics.serviceMonitor.enabled=true', `image.digest=${digest}`]);
    const monitor = chart.find((o) => o.kind === 'ServiceMonitor')!;
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'http-metrics', path: '/metrics' });
    const deployment = chart.find((o) => o.kind === 'Deployment')!;
    expect(deployment.spec.template.spec.containers[0].image).toBe(`ghcr.io/licensegate/licensegate@${digest}`);
  });

  it('renders the optional PrometheusRule: near-limit, limit-reached and expiring-soon alerts on the operator\'s gauges', () => {
    expect(template('lg', []).some((o) => o.kind === 'PrometheusRule')).toBe(false);
    const rule = template('lg', ['metrics.prometheusRule.enabled=true']).find((o) => o.kind === 'PrometheusRule')!;
    const rules = rule.spec.groups[0].rules as { alert: string; expr: string; annotations: { summary: string } }[];
    expect(rules.map((r) => r.alert)).toEqual(['LicenseNearLimit', 'LicenseLimitReached', 'LicenseExpiringSoon']);
    expect(rules[0]!.expr).toContain('0.8 * max by (license, customer, application, limit) (licensegate_license_limit)');
    expect(rules[2]!.expr).toContain('7 * 86400');
    expect(rules[1]!.annotations.summary).toContain('{{ $labels.license }}');
  });

  it('has the appVersion of package.json', () => {
    const meta = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    expect(meta.appVersion).toBe(APP_VERSION);
  });
});
