import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  binaryCacheDir,
  buildBinaries,
  GoToolchainMissingError,
  readControlPlaneVersions,
  resolveBinaries,
} from '../../../src/localcluster/binaries.js';
import { findRepoRoot } from '../../../src/localcluster/repo.js';

const versions = { kubernetes: '1.33.13', etcd: '3.5.21' };
const ALL = ['etcd', 'kube-apiserver', 'kube-controller-manager'];

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'lg-binaries-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A fake repository with the two wrapper go.mod files the versions come from. */
function fakeRepo(): string {
  const repo = join(root, 'repo');
  for (const [module, line] of [
    ['kube', `require k8s.io/kubernetes v${versions.kubernetes}`],
    ['etcd', `require go.etcd.io/etcd/server/v3 v${versions.etcd}`],
  ] as const) {
    mkdirSync(join(repo, 'test/controlplane/go', module), { recursive: true });
    writeFileSync(join(repo, 'test/controlplane/go', module, 'go.mod'), `module x\n\ngo 1.24.0\n\n${line}\n\nrequire (\n)\n`);
  }
  return repo;
}

function fakeBinaries(dir: string, names: readonly string[], mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  for (const name of names) {
    writeFileSync(join(dir, name), '#!/bin/sh\n');
    chmodSync(join(dir, name), mode);
  }
  return dir;
}

/** Environment with the cache under `root/cache`, so the real cache never interferes. */
function envWith(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { LICENSEGATE_CACHE_DIR: join(root, 'cache'), ...extra };
}
const cacheDir = () => binaryCacheDir(versions, envWith());

function recordingBuild(outDir: string, names: readonly string[]) {
  const calls: string[] = [];
  return {
    calls,
    build: async (_repo: string, cache: string) => {
      calls.push(cache);
      return fakeBinaries(outDir, names);
    },
  };
}

describe('readControlPlaneVersions', () => {
  it('reads the versions from the wrapper go.mod files', () => {
    expect(readControlPlaneVersions(fakeRepo())).toEqual(versions);
  });
});

describe('binaryCacheDir', () => {
  const key = 'k8s-v1.33.13-etcd-v3.5.21';
  it.each([
    [{ LICENSEGATE_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' }, `/c/${key}`],
    [{ XDG_CACHE_HOME: '/x', HOME: '/h' }, `/x/licensegate/${key}`],
    [{ HOME: '/h' }, `/h/.cache/licensegate/${key}`],
    // bash's ${VAR:-default} treats empty as unset, and so must this.
    [{ LICENSEGATE_CACHE_DIR: '', XDG_CACHE_HOME: '', HOME: '/h' }, `/h/.cache/licensegate/${key}`],
  ])('%o → %s', (env, expected) => {
    expect(binaryCacheDir(versions, env)).toBe(expected);
  });
});

describe('resolveBinaries', () => {
  it('takes all three from KUBEBUILDER_ASSETS when they are there', async () => {
    const assets = fakeBinaries(join(root, 'assets'), ALL);
    fakeBinaries(cacheDir(), ALL);
    const { build, calls } = recordingBuild(join(root, 'built'), ALL);
    const found = await resolveBinaries({ controllerManager: true, env: envWith({ KUBEBUILDER_ASSETS: assets }), repoRoot: fakeRepo(), build });
    expect(found).toEqual({
      etcd: join(assets, 'etcd'),
      kubeApiserver: join(assets, 'kube-apiserver'),
      kubeControllerManager: join(assets, 'kube-controller-manager'),
    });
    expect(calls).toEqual([]);
  });

  it('falls through to the cache for a controller-manager setup-envtest does not ship', async () => {
    const assets = fakeBinaries(join(root, 'assets'), ['etcd', 'kube-apiserver']);
    fakeBinaries(cacheDir(), ALL);
    const found = await resolveBinaries({ controllerManager: true, env: envWith({ KUBEBUILDER_ASSETS: assets }), repoRoot: fakeRepo() });
    expect(found.kubeApiserver).toBe(join(assets, 'kube-apiserver'));
    expect(found.kubeControllerManager).toBe(join(cacheDir(), 'kube-controller-manager'));
  });

  it('refuses a KUBEBUILDER_ASSETS without kube-apiserver', async () => {
    const assets = fakeBinaries(join(root, 'assets'), ['etcd']);
    fakeBinaries(cacheDir(), ALL);
    await expect(
      resolveBinaries({ controllerManager: false, env: envWith({ KUBEBUILDER_ASSETS: assets }), repoRoot: fakeRepo() }),
    ).rejects.toThrow(/KUBEBUILDER_ASSETS=.* has no executable kube-apiserver/);
  });

  it('uses the version-keyed cache without building', async () => {
    fakeBinaries(cacheDir(), ALL);
    const { build, calls } = recordingBuild(join(root, 'built'), ALL);
    const found = await resolveBinaries({ controllerManager: true, env: envWith(), repoRoot: fakeRepo(), build });
    expect(found.etcd).toBe(join(cacheDir(), 'etcd'));
    expect(calls).toEqual([]);
  });

  it('does not build a controller-manager nobody asked for', async () => {
    fakeBinaries(cacheDir(), ['etcd', 'kube-apiserver']);
    const { build, calls } = recordingBuild(join(root, 'built'), ALL);
    const found = await resolveBinaries({ controllerManager: false, env: envWith(), repoRoot: fakeRepo(), build });
    expect(found).toEqual({ etcd: join(cacheDir(), 'etcd'), kubeApiserver: join(cacheDir(), 'kube-apiserver') });
    expect(calls).toEqual([]);
  });

  it('builds into the cache dir what is missing or not executable', async () => {
    fakeBinaries(cacheDir(), ['etcd']);
    fakeBinaries(cacheDir(), ['kube-apiserver'], 0o644);
    const built = join(root, 'built');
    const { build, calls } = recordingBuild(built, ALL);
    const found = await resolveBinaries({ controllerManager: true, env: envWith(), repoRoot: fakeRepo(), build });
    expect(calls).toEqual([cacheDir()]);
    expect(found).toEqual({
      etcd: join(cacheDir(), 'etcd'),
      kubeApiserver: join(built, 'kube-apiserver'),
      kubeControllerManager: join(built, 'kube-controller-manager'),
    });
  });

  it('says what is still missing when a build produced too little', async () => {
    const { build } = recordingBuild(join(root, 'built'), ['etcd']);
    await expect(resolveBinaries({ controllerManager: false, env: envWith(), repoRoot: fakeRepo(), build })).rejects.toThrow(
      /kube-apiserver not found/,
    );
  });
});

describe('buildBinaries', () => {
  it('explains the alternatives when go is not on PATH', async () => {
    const error = await buildBinaries(fakeRepo(), cacheDir(), { PATH: join(root, 'empty-path') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GoToolchainMissingError);
    expect((error as Error).message).toMatch(/KUBEBUILDER_ASSETS/);
    expect((error as Error).message).toContain(cacheDir());
  });
});

describe('agreement with build-binaries.sh', () => {
  it('computes the same cache directory as the script', () => {
    const repo = findRepoRoot();
    const script = readFileSync(join(repo, 'test/controlplane/build-binaries.sh'), 'utf8');
    // The script's own assignment lines, evaluated by bash (BASH_SOURCE is empty, so `here` is the cwd).
    const assignments = script.split('\n').filter((line) => /^(here|kube_version|etcd_version|cache_root|out)=/.test(line));
    expect(assignments).toHaveLength(5);
    const env = { PATH: process.env['PATH'], HOME: '/home/someone', XDG_CACHE_HOME: join(root, 'xdg') };
    const fromScript = execFileSync('bash', ['-c', `${assignments.join('\n')}\necho "$out"`], {
      cwd: join(repo, 'test/controlplane'),
      env,
      encoding: 'utf8',
    }).trim();
    expect(binaryCacheDir(readControlPlaneVersions(repo), env)).toBe(fromScript);
  });
});
