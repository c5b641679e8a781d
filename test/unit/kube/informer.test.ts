import { describe, expect, it } from 'vitest';
import { diffSnapshot, objectKey, type ObjectLike } from '../../../src/kube/informer.js';

const obj = (name: string, resourceVersion: string, namespace?: string): ObjectLike => ({
  metadata: { name, resourceVersion, ...(namespace && { namespace }) },
});

describe('objectKey', () => {
  it('is namespace/name for namespaced objects and name for cluster-scoped ones', () => {
    expect(objectKey(obj('a', '1', 'ns'))).toBe('ns/a');
    expect(objectKey(obj('node-1', '1'))).toBe('node-1');
  });
});

describe('diffSnapshot', () => {
  const cached = new Map(
    [obj('same', '1', 'ns'), obj('changed', '1', 'ns'), obj('gone', '1', 'ns')].map((o) => [objectKey(o), o] as const),
  );

  it('reports added, modified (resourceVersion moved) and deleted objects, nothing for unchanged ones', () => {
    const fresh = [obj('same', '1', 'ns'), obj('changed', '2', 'ns'), obj('new', '3', 'ns')];
    const changes = diffSnapshot(cached, fresh).map(({ type, obj }) => [type, objectKey(obj), obj.metadata?.resourceVersion]);
    expect(changes).toEqual([
      ['MODIFIED', 'ns/changed', '2'],
      ['ADDED', 'ns/new', '3'],
      ['DELETED', 'ns/gone', '1'],
    ]);
  });

  it('keys by namespace too: the same name in another namespace is a different object', () => {
    const changes = diffSnapshot(new Map([['a/x', obj('x', '1', 'a')]]), [obj('x', '1', 'b')]);
    expect(changes.map(({ type, obj }) => [type, objectKey(obj)])).toEqual([
      ['ADDED', 'b/x'],
      ['DELETED', 'a/x'],
    ]);
  });

  it('announces everything as ADDED into an empty cache and nothing for an identical list', () => {
    expect(diffSnapshot(new Map(), [obj('a', '1')]).map((c) => c.type)).toEqual(['ADDED']);
    expect(diffSnapshot(cached, [...cached.values()])).toEqual([]);
  });
});
