import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import {
  IMAGE_REPOSITORY_PATTERN,
  VERSION_CONSTRAINT_PATTERN,
  applicationSpec,
  customerSpec,
  licenseSpec,
  resourceDefinitions,
} from '../../../src/api/index.js';

const examplesDir = join(import.meta.dirname, '..', '..', '..', 'examples');
const specSchemas: Record<string, { safeParse(v: unknown): { success: boolean; error?: unknown } }> = {
  Application: applicationSpec,
  Customer: customerSpec,
  License: licenseSpec,
};

describe('examples/', () => {
  const docs = readdirSync(examplesDir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(examplesDir, f), 'utf8')).map((d) => ({ file: f, obj: d.toJS() })));

  it('holds two applications, three customers and at least five licenses', () => {
    const count = (kind: string) => docs.filter((d) => d.obj.kind === kind).length;
    expect(count('Application')).toBe(2);
    expect(count('Customer')).toBe(3);
    expect(count('License')).toBeGreaterThanOrEqual(5);
  });

  it.each(docs.filter((d) => specSchemas[d.obj.kind]).map((d) => [`${d.obj.kind}/${d.obj.metadata.name}`, d.obj]))(
    '%s passes the zod schema',
    (_name, obj) => {
      const result = specSchemas[obj.kind]!.safeParse(obj.spec);
      expect(result.error).toBeUndefined();
    },
  );
});

describe('version constraint pattern', () => {
  const pattern = new RegExp(VERSION_CONSTRAINT_PATTERN);
  const valid = ['2.4.1', '*', '>=2.5.0 <3.0.0', '^2.4', '~1.2.3', '2.x', '2.x || 3.1.0', '1.2.3 - 2.3.4', 'v1.2.3', '>= 1.0.0', '3.0.0-rc.1', 'x', '1', '=1.0.0', '<1.0.0 || >=2.0.0 <3'];
  const invalid = ['', 'latest', '>=>1.0.0', '1.0.0 <', 'abc', '1.0.0 ||', '|| 1.0.0', '>1.0.0 - 2.0.0', '01.2.3'];

  it.each(valid)('accepts %j, as the semver library does', (range) => {
    expect(pattern.test(range)).toBe(true);
    expect(semver.validRange(range)).not.toBeNull();
  });

  it.each(invalid)('refuses %j', (range) => {
    expect(pattern.test(range)).toBe(false);
  });
});

describe('image repository pattern', () => {
  const pattern = new RegExp(IMAGE_REPOSITORY_PATTERN);
  it.each(['nginx', 'library/nginx', 'docker.io/library/nginx', 'localhost:5000/acme/api', 'registry.acme.example/a/b-c_d.e', 'ghcr.io/org/img__x'])(
    'accepts %s',
    (repo) => expect(pattern.test(repo)).toBe(true),
  );
  it.each(['nginx:1.25', 'registry.acme.example/api:v1', 'nginx@sha256:abc', 'Acme/API', 'registry.acme.example/', '/nginx'])(
    'refuses %s',
    (repo) => expect(pattern.test(repo)).toBe(false),
  );
});

describe('generated CRD schemas', () => {
  const walk = (node: unknown, visit: (n: Record<string, unknown>, path: string) => void, path = ''): void => {
    if (typeof node !== 'object' || node === null) return;
    visit(node as Record<string, unknown>, path);
    for (const [key, child] of Object.entries(node)) walk(child, visit, `${path}.${key}`);
  };

  it.each(resourceDefinitions.map((d) => [d.kind, d]))('%s is structural: every node typed, no unions, no bare patterns', async (_kind, def) => {
    const { openApiSchema } = await import('../../../src/api/crd.js');
    const problems: string[] = [];
    for (const schema of [def.spec, def.status].filter(Boolean)) {
      walk(openApiSchema(schema!), (n, path) => {
        const isSchemaNode = path === '' || /\.(properties\.[^.]+|items|additionalProperties)$/.test(path);
        if (isSchemaNode && !('type' in n)) problems.push(`${path}: no type`);
        for (const k of ['anyOf', 'oneOf', 'allOf', '$schema', 'propertyNames']) if (k in n && isSchemaNode) problems.push(`${path}: ${k}`);
        // Plain patterns are kept only where they are short enough to read in an error.
        if (isSchemaNode && 'pattern' in n && String(n.pattern).length > 40) problems.push(`${path}: unreadable pattern without a message`);
      });
    }
    expect(problems).toEqual([]);
  });
});
