/** The chart's signing values: vendor public keys mounted for the operator, and signing.required. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePublicKeys } from '../../../src/licensing/signature.js';
import { helm } from '../../helm-binary.js';

type Obj = { kind: string; metadata: { name: string; annotations?: Record<string, string> } } & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const chartDir = join(import.meta.dirname, '..', '..', '..', 'charts', 'licensegate');
const render = (args: string[]): Obj[] =>
  parseAllDocuments(helm(['template', 'licensegate', chartDir, '--namespace', 'lg', ...args])).map((d) => d.toJS() as Obj).filter((o) => o?.kind);

const pem = [generateKeyPairSync('ed25519'), generateKeyPairSync('ed25519')].map((k) => k.publicKey.export({ type: 'spki', format: 'pem' }) as string).join('');
const pubFile = join(mkdtempSync(join(tmpdir(), 'chart-signing-')), 'vendor.pub');
writeFileSync(pubFile, pem);

describe('chart signing values', () => {
  it('--set-file signing.publicKeys mounts the keys for the operator, and a key change restarts the pods', () => {
    const objects = render(['--set-file', `signing.publicKeys=${pubFile}`, '--set', 'signing.required=true']);
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'licensegate-signing-keys')!;
    const keys = parsePublicKeys(configMap.data['vendor.pem']);
    expect(keys.ok && keys.keys.size).toBe(2);
    const pod = objects.find((o) => o.kind === 'Deployment')!.spec.template;
    const env = Object.fromEntries(pod.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ LICENSEGATE_SIGNING_PUBLIC_KEYS: '/etc/licensegate/signing-keys', LICENSEGATE_SIGNING_REQUIRED: 'true' });
    expect(pod.spec.containers[0].volumeMounts).toContainEqual({ name: 'signing-keys', mountPath: '/etc/licensegate/signing-keys', readOnly: true });
    expect(pod.spec.volumes).toContainEqual({ name: 'signing-keys', configMap: { name: 'licensegate-signing-keys' } });
    expect(pod.metadata.annotations['checksum/signing-keys']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('without keys: no ConfigMap, no key path, signing not required', () => {
    const objects = render([]);
    expect(objects.find((o) => o.metadata.name === 'licensegate-signing-keys')).toBeUndefined();
    const env = objects.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    expect(env).not.toContain('LICENSEGATE_SIGNING_PUBLIC_KEYS');
  });

  it('refuses signing.required without keys, with a message saying what to set', () => {
    expect(() => render(['--set', 'signing.required=true'])).toThrow(/signing.required needs signing.publicKeys/);
  });
});

describe('chart activation values', () => {
  const enabled = (extra: string[] = []) => render(['--set', 'activation.enabled=true', ...extra]);

  it('is off by default', () => {
    expect(render([]).filter((o) => o.metadata.name === 'licensegate-activation')).toEqual([]);
  });

  it('runs the activation server with the vendor key and TLS, on pods the operator\'s selectors do not pick', () => {
    const objects = enabled(['--set', 'activation.tlsSecret=activation-tls']);
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'licensegate-activation')!;
    const container = deployment.spec.template.spec.containers[0];
    expect(container.command).toEqual([
      'node', 'dist/src/cli/main.js', 'activation-server',
      '--key=/etc/licensegate/vendor-key/vendor.key', '--listen=0.0.0.0:8443', '--namespace=lg',
      '--tls-cert=/etc/licensegate/tls/tls.crt', '--tls-key=/etc/licensegate/tls/tls.key',
    ]);
    expect(deployment.spec.template.spec.volumes).toContainEqual({ name: 'vendor-key', secret: { secretName: 'licensegate-vendor-key', defaultMode: 0o440 } });
    const operator = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'licensegate')!;
    const operatorSelector = operator.spec.selector.matchLabels as Record<string, string>;
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    expect(Object.entries(operatorSelector).every(([k, v]) => podLabels[k] === v)).toBe(false);
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'licensegate-activation')!;
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create'] },
    ]);
    const clusterRole = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'licensegate-activation')!;
    expect(clusterRole.rules).toEqual([{ apiGroups: ['licensegate.dev'], resources: ['licenses'], verbs: ['get'] }]);
  });

  it('refuses plain HTTP unless asked for it behind a TLS proxy', () => {
    expect(() => enabled()).toThrow(/activation.enabled needs activation.tlsSecret/);
    const container = enabled(['--set', 'activation.allowPlainHttp=true']).find((o) => o.metadata.name === 'licensegate-activation' && o.kind === 'Deployment')!.spec.template.spec.containers[0];
    expect(container.command).toContain('--allow-plain-http');
  });
});
