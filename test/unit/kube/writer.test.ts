import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeWriter, WritesClosedError } from '../../../src/kube/writer.js';

describe('KubeWriter once leadership is lost', () => {
  it('refuses every write before sending anything', async () => {
    const kc = new KubeConfig();
    // Nothing listens here: a write that got as far as the network would fail differently.
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    let leading = true;
    const writer = new KubeWriter(kc, { mayWrite: () => leading });
    leading = false;
    const object = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'y' } };
    await expect(writer.apply(object)).rejects.toBeInstanceOf(WritesClosedError);
    await expect(writer.mergePatch(object)).rejects.toBeInstanceOf(WritesClosedError);
    await expect(writer.delete(object)).rejects.toBeInstanceOf(WritesClosedError);
    await expect(writer.event({ apiVersion: 'v1', kind: 'ConfigMap', name: 'x' }, 'Normal', 'R', 'm', new Date(0))).rejects.toBeInstanceOf(WritesClosedError);
    expect(writer.writes).toBe(0);
  });
});
