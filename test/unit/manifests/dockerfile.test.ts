/**
 * No Docker engine runs here, so the Dockerfile is checked for what can be checked without
 * one: a Node 22 runtime, a numeric non-root user that the chart's runAsUser matches,
 * production dependencies only, and entry points that the TypeScript build actually emits.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUN_AS_USER } from '../../../src/manifests/deployment.js';

const root = join(import.meta.dirname, '..', '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1)!;
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string>; engines: { node: string } };
const tsconfigBuild = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };

describe('Dockerfile', () => {
  it('is multi-stage on Node 22', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22[-.\w]*$/m);
    for (const stage of stages) expect(stage.startsWith('${NODE_IMAGE}')).toBe(true);
  });

  it('runs as the numeric non-root user the chart and manifests expect', () => {
    const user = /^USER (\d+):(\d+)$/m.exec(runtime);
    expect(user, 'USER uid:gid in the final stage').not.toBeNull();
    expect(Number(user![1])).toBe(RUN_AS_USER);
    expect(Number(user![1])).toBeGreaterThan(0);
  });

  it('installs production dependencies only into the runtime, from the lockfile', () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    // The runtime copies node_modules from the production-only stage, not from the build stage.
    const copies = [...runtime.matchAll(/^COPY --from=(\w+) (\S+)/gm)].map((m) => [m[1], m[2]]);
    expect(copies).toContainEqual(['deps', '/app/node_modules']);
    expect(copies.filter(([stage, path]) => stage === 'build' && path!.includes('node_modules'))).toEqual([]);
  });

  it('starts the operator and offers the CLI from what `npm run build` emits', () => {
    // tsconfig.build.json: rootDir "." → dist/src/<file>.js for src/<file>.ts.
    expect(tsconfigBuild.compilerOptions).toMatchObject({ rootDir: '.', outDir: 'dist' });
    // Node flags may come first (memory: bench/README.md).
    expect(runtime).toMatch(/^CMD \["node", (?:"--[^"]+", )*"dist\/src\/main\.js"\]$/m);
    expect(readFileSync(join(root, 'src', 'main.ts'), 'utf8')).toContain('runOperator');
    expect(packageJson.bin['licensegate']).toBe('dist/src/cli/main.js');
    expect(runtime).toContain('/app/dist/src/cli/main.js');
  });

  it('sends only what the build needs as context (.dockerignore)', () => {
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
    for (const path of copied) expect(allowed, path).toContain(path);
  });
});
