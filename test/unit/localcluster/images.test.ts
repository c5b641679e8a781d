import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUSYBOX, PAUSE_CONFIG, testAppConfig, writeBusyboxImage } from '../../../src/localcluster/images.js';

const dir = mkdtempSync(join(tmpdir(), 'lg-images-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Manifest = { config: { digest: string }; layers: { digest: string; mediaType: string }[] };
const blob = (layout: string, digest: string) => readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), 'utf8');
const manifestOf = (layout: string, digest: string) => JSON.parse(blob(layout, digest)) as Manifest;

// busybox-static is what test/setup.sh installs for the node; without it there is nothing to build from.
describe.skipIf(!existsSync(BUSYBOX))('busybox images', () => {
  it('give each version its own manifest over one shared layer', async () => {
    const a = await writeBusyboxImage(join(dir, 'a'), '1.0.0', testAppConfig('1.0.0'));
    const b = await writeBusyboxImage(join(dir, 'b'), '1.1.0', testAppConfig('1.1.0'));
    const pause = await writeBusyboxImage(join(dir, 'p'), '1', PAUSE_CONFIG);
    expect(new Set([a.manifestDigest, b.manifestDigest, pause.manifestDigest]).size).toBe(3);
    const [ma, mb] = [manifestOf(a.dir, a.manifestDigest), manifestOf(b.dir, b.manifestDigest)];
    expect(ma.layers).toEqual(mb.layers);
    expect(ma.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const config = JSON.parse(blob(b.dir, mb.config.digest)) as { config: { Env: string[]; Entrypoint: string[] }; rootfs: { diff_ids: string[] } };
    expect(config.config.Env).toContain('APP_VERSION=1.1.0');
    expect(config.config.Entrypoint[0]).toBe('/bin/sh');
    expect(config.rootfs.diff_ids).toHaveLength(1);
    // The layout names the tag, as skopeo's oci:DIR:TAG expects.
    const index = JSON.parse(readFileSync(join(b.dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    expect(index.manifests[0]).toMatchObject({ digest: b.manifestDigest, annotations: { 'org.opencontainers.image.ref.name': '1.1.0' } });
  });
});
