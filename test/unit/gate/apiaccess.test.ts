import { mkdtempSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { gateApiAccess } from '../../../src/gate/apiaccess.js';

const dir = mkdtempSync(join(tmpdir(), 'gate-apiaccess-'));
const saved = process.env.KUBECONFIG;
afterEach(() => {
  process.env.KUBECONFIG = saved;
});

const kubeconfig = (user: Record<string, unknown>) => {
  const path = join(dir, `kc-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, stringify({
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    clusters: [{ name: 'k', cluster: { server: 'https://10.0.0.1:6443', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user }],
  }));
  return path;
};

describe('gateApiAccess', () => {
  it('serves a token kubeconfig itself, with a kept-alive agent and the bearer token', async () => {
    process.env.KUBECONFIG = kubeconfig({ token: 'abc' });
    const access = await gateApiAccess();
    expect('makeApiClient' in access).toBe(false);
    expect(access.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    const options: RequestOptions = { headers: { Accept: 'application/json' } };
    await access.applyToHTTPSOptions(options);
    expect(options.headers).toEqual({ Accept: 'application/json', Authorization: 'Bearer abc' });
    expect(options.agent).toBeDefined();
  });

  it('leaves what it cannot express (exec plugins) to client-node', async () => {
    process.env.KUBECONFIG = kubeconfig({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } });
    const access = await gateApiAccess();
    expect('makeApiClient' in access).toBe(true);
  });
});
