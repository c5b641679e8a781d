import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REGISTRY,
  normalizeRepository,
  parseImageReference,
  type ImageReference,
} from '../../../src/vocabulary/image.js';
import { digest } from '../fixtures.js';

const SHA = digest('a');
const SHA2 = digest('b');

describe('parseImageReference', () => {
  it.each<[string, ImageReference]>([
    // Docker Hub short forms
    ['nginx', { repository: 'docker.io/library/nginx', tag: 'latest', digest: undefined }],
    ['nginx:1.25', { repository: 'docker.io/library/nginx', tag: '1.25', digest: undefined }],
    ['library/nginx:1.25', { repository: 'docker.io/library/nginx', tag: '1.25', digest: undefined }],
    ['acme/api', { repository: 'docker.io/acme/api', tag: 'latest', digest: undefined }],
    ['acme/api:v2.4.1', { repository: 'docker.io/acme/api', tag: 'v2.4.1', digest: undefined }],
    ['acme/team/api:1', { repository: 'docker.io/acme/team/api', tag: '1', digest: undefined }],
    ['docker.io/nginx', { repository: 'docker.io/library/nginx', tag: 'latest', digest: undefined }],
    ['docker.io/library/nginx:1.25', { repository: 'docker.io/library/nginx', tag: '1.25', digest: undefined }],
    ['index.docker.io/nginx', { repository: 'docker.io/library/nginx', tag: 'latest', digest: undefined }],
    ['index.docker.io/acme/api:2.0.0', { repository: 'docker.io/acme/api', tag: '2.0.0', digest: undefined }],
    // registry hosts: a ".", a ":" (port) or "localhost"
    ['localhost:5000/a/b:1.0', { repository: 'localhost:5000/a/b', tag: '1.0', digest: undefined }],
    ['localhost:5000/a', { repository: 'localhost:5000/a', tag: 'latest', digest: undefined }],
    ['localhost/a:1.0', { repository: 'localhost/a', tag: '1.0', digest: undefined }],
    ['registry.example.com/acme/api:2.4.1', { repository: 'registry.example.com/acme/api', tag: '2.4.1', digest: undefined }],
    ['registry.example.com/api', { repository: 'registry.example.com/api', tag: 'latest', digest: undefined }],
    ['ghcr.io/acme/api:latest', { repository: 'ghcr.io/acme/api', tag: 'latest', digest: undefined }],
    ['myhost:5000/api', { repository: 'myhost:5000/api', tag: 'latest', digest: undefined }],
    // a first path part without "." or ":" is a Docker Hub namespace, not a host
    ['registry/acme/api:1', { repository: 'docker.io/registry/acme/api', tag: '1', digest: undefined }],
    // digests
    [`registry.example.com:5000/a@${SHA}`, { repository: 'registry.example.com:5000/a', tag: undefined, digest: SHA }],
    [`nginx@${SHA}`, { repository: 'docker.io/library/nginx', tag: undefined, digest: SHA }],
    [`nginx:1.25@${SHA}`, { repository: 'docker.io/library/nginx', tag: '1.25', digest: SHA }],
    [`localhost:5000/a/b:1.0@${SHA2}`, { repository: 'localhost:5000/a/b', tag: '1.0', digest: SHA2 }],
    // left as written: parsing is not validation
    ['Registry.Example.com/Acme/API:V1', { repository: 'Registry.Example.com/Acme/API', tag: 'V1', digest: undefined }],
    ['UPPER', { repository: 'docker.io/library/UPPER', tag: 'latest', digest: undefined }],
  ])('%s', (reference, expected) => {
    expect(parseImageReference(reference)).toEqual(expected);
  });

  it('reads no tag into a registry port', () => {
    expect(parseImageReference('registry.example.com:5000/acme/api').tag).toBe('latest');
    expect(parseImageReference('registry.example.com:5000/acme/api').repository).toBe('registry.example.com:5000/acme/api');
  });
});

describe('normalizeRepository', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx'],
    ['library/nginx', 'docker.io/library/nginx'],
    ['acme/api', 'docker.io/acme/api'],
    ['docker.io/nginx', 'docker.io/library/nginx'],
    ['docker.io/library/nginx', 'docker.io/library/nginx'],
    ['index.docker.io/nginx', 'docker.io/library/nginx'],
    ['index.docker.io/acme/api', 'docker.io/acme/api'],
    ['registry.example.com/acme/api', 'registry.example.com/acme/api'],
    ['registry.example.com/api', 'registry.example.com/api'],
    ['localhost:5000/a/b', 'localhost:5000/a/b'],
    ['localhost/a', 'localhost/a'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeRepository(input)).toBe(expected);
  });

  it('is idempotent', () => {
    for (const repo of ['nginx', 'acme/api', 'index.docker.io/nginx', 'localhost:5000/a/b', 'registry.example.com/x']) {
      const once = normalizeRepository(repo);
      expect(normalizeRepository(once)).toBe(once);
    }
  });

  it('agrees with what parseImageReference makes of the same repository', () => {
    for (const repo of ['nginx', 'acme/api', 'localhost:5000/a/b', 'registry.example.com/acme/api']) {
      expect(parseImageReference(`${repo}:1.0.0`).repository).toBe(normalizeRepository(repo));
    }
  });

  it('uses docker.io as the default registry', () => {
    expect(DEFAULT_REGISTRY).toBe('docker.io');
  });
});
