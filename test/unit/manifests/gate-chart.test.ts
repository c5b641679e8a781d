/** The chart's registry gate: off by default; on, its own Deployment, Services, budget and read-only RBAC. Needs helm. */
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { GATE_NODE_FLAGS } from '../../../src/manifests/names.js';
import { gateClusterRules, gateNamespaceRules } from '../../../src/manifests/rbac.js';
import { helm } from '../../helm-binary.js';

type Obj = { kind: string; metadata: { name: string }; [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
const chartDir = join(import.meta.dirname, '..', '..', '..', 'charts', 'licensegate');
const template = (set: string[]): Obj[] =>
  parseAllDocuments(helm(['template', 'licensegate', chartDir, '--namespace', 'lg', ...set.flatMap((s) => ['--set', s])]))
    .map((d) => d.toJS() as Obj)
    .filter((o) => o?.kind);
const named = (objects: Obj[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

describe('the gate in the chart', () => {
  it('is off by default', () => {
    expect(template([]).filter((o) => o.metadata.name.startsWith('licensegate-gate'))).toEqual([]);
  });

  it('on: two non-root replicas with probes and metrics, TLS from the operator-issued Secret, read-only RBAC', () => {
    const objects = template(['gate.enabled=true', 'gate.tls.hosts={gate.vendor.example}']);
    const deployment = named(objects, 'Deployment', 'licensegate-gate')!;
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const container = pod.containers[0];
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.args.slice(0, 1 + GATE_NODE_FLAGS.length + 1)).toEqual(['node', ...GATE_NODE_FLAGS, 'dist/src/gate/main.js']);
    expect(container.args).toEqual(expect.arrayContaining([ '--listen=0.0.0.0:5443', '--tls-cert=/etc/licensegate/gate-tls/tls.crt', '--metrics-port=8080']));
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(pod.volumes.find((v: { name: string }) => v.name === 'tls').secret).toMatchObject({ secretName: 'licensegate-gate-tls', items: [{ key: 'tls.crt' }, { key: 'tls.key' }] });
    expect(named(objects, 'Service', 'licensegate-gate')!.spec.ports[0]).toMatchObject({ port: 443, targetPort: 'registry' });
    expect(named(objects, 'Service', 'licensegate-gate-metrics')).toBeDefined();
    expect(named(objects, 'PodDisruptionBudget', 'licensegate-gate')).toBeDefined();
    expect(named(objects, 'ClusterRole', 'licensegate-gate')!.rules).toEqual(gateClusterRules());
    expect(named(objects, 'Role', 'licensegate-gate')!.rules).toEqual(gateNamespaceRules());
    expect(named(objects, 'RoleBinding', 'licensegate-gate')!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'licensegate-gate', namespace: 'lg' }]);
    const operator = named(objects, 'Deployment', 'licensegate')!.spec.template.spec.containers[0];
    expect(operator.env).toContainEqual({ name: 'LICENSEGATE_GATE_TLS_HOSTS', value: 'gate.vendor.example' });
  });

  it('with the install\'s own certificate, the operator issues none', () => {
    const objects = template(['gate.enabled=true', 'gate.tls.secretName=gate-cert']);
    expect(named(objects, 'Deployment', 'licensegate-gate')!.spec.template.spec.volumes[0].secret.secretName).toBe('gate-cert');
    expect(named(objects, 'Deployment', 'licensegate')!.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name)).not.toContain('LICENSEGATE_GATE_TLS_HOSTS');
  });

  it('refuses to run without a certificate or hosts to issue one for', () => {
    expect(() => template(['gate.enabled=true'])).toThrow(/allOf/);
  });
});
