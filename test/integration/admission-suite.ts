/**
 * The admission acceptance cases, written once and run against each engine: the
 * ValidatingAdmissionPolicy (enforcement.test.ts) and the webhook (webhook.test.ts).
 */
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION, type VersionPolicy } from '../../src/api/index.js';
import { applyObjects } from '../../src/kube/apply.js';
import { apiError } from '../../src/kube/errors.js';
import { deploymentWith, podWith, serverVerdict, untilAdmission } from './admission-harness.js';
import { kubeConfig, uniqueName } from './context.js';
import { watchUntilPasses } from './operator-harness.js';

export const D1 = 'sha256:' + 'd1'.repeat(32);

/** An Application with versions 1.0.0 (with digest D1), 1.1.0 and 2.0.0 of one image. */
export function testApplication(name: string) {
  const repo = `registry.test.example/${name}/server`;
  return {
    repo,
    object: {
      apiVersion: API_VERSION,
      kind: 'Application',
      metadata: { name },
      spec: { images: [repo], versions: [{ version: '1.0.0', digests: { [repo]: D1 } }, { version: '1.1.0' }, { version: '2.0.0' }] },
    },
  };
}

export interface AdmissionSuiteOptions {
  engine: 'policy' | 'webhook';
  /** Name of an Application made with testApplication(), already applied. */
  app: () => string;
  /** Stops the operator (and its webhook); `restart` brings it back. */
  stopOperator: () => Promise<void>;
  restartOperator: () => Promise<void>;
}

export function admissionSuite(options: AdmissionSuiteOptions) {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  describe(`admission (${options.engine})`, () => {
    const customer = uniqueName(`adm-${options.engine}`);
    const license = uniqueName(`adm-${options.engine}-lic`);
    const repo = () => `registry.test.example/${options.app()}/server`;
    const image = (tag: string) => `${repo()}:${tag}`;

    beforeAll(async () => {
      await applyObjects(kc, [
        { apiVersion: API_VERSION, kind: 'Customer', metadata: { name: customer }, spec: { namespaces: [customer] } },
        { apiVersion: API_VERSION, kind: 'License', metadata: { name: license }, spec: { customer, application: options.app(), versions: ['>=1.0.0 <2.0.0'] } },
      ], { fieldManager: 'test' });
      await watchUntilPasses<VersionPolicy>(kc, `/apis/${GROUP}/${VERSION}/versionpolicies`, (all) => {
        expect(all.find((p) => p.metadata.namespace === customer)?.spec.repositories[repo()]?.allowedTags).toEqual(['1.0.0', '1.1.0']);
      });
      const probe = (tag: string) => serverVerdict(kc, deploymentWith(customer, 'probe', [image(tag)]));
      await untilAdmission(async () => (await probe('1.0.0')).allowed, 20_000, () => probe('1.0.0'));
      await untilAdmission(async () => !(await probe('2.0.0')).allowed, 20_000, () => probe('2.0.0'));
    });

    it('admits a Deployment with a granted tag, a known digest, and images outside gated repositories', async () => {
      expect(await serverVerdict(kc, deploymentWith(customer, 'ok', [image('1.1.0')]))).toMatchObject({ allowed: true });
      expect(await serverVerdict(kc, deploymentWith(customer, 'ok-digest', [`${repo()}@${D1}`]))).toMatchObject({ allowed: true });
      expect(await serverVerdict(kc, deploymentWith(customer, 'other', ['docker.io/library/busybox:1.36', image('1.0.0')]))).toMatchObject({ allowed: true });
    });

    it.each([
      ['an ungranted tag', ['2.0.0'], []],
      ['an unknown digest', [`@sha256:${'ee'.repeat(32)}`], []],
      ['a granted tag with an unknown digest (the digest decides)', [`:1.0.0@sha256:${'ee'.repeat(32)}`], []],
      ['no tag (latest)', [''], []],
      ['an unlicensed init container', ['1.0.0'], ['2.0.0']],
    ])('refuses %s, naming image, customer and license', async (_what, suffixes, init) => {
      const ref = (s: string) => (/^[0-9]/.test(s) ? image(s) : `${repo()}${s}`);
      const verdict = await serverVerdict(kc, deploymentWith(customer, 'refused', suffixes.map(ref), 1, init.map(ref)));
      expect(verdict.allowed).toBe(false);
      expect(verdict.message).toContain('is not licensed for customer ' + customer);
      expect(verdict.message).toContain(license);
    });

    it('refuses a revoked version once the license revokes it', async () => {
      await custom.patchClusterCustomObject(
        { group: GROUP, version: VERSION, plural: 'licenses', name: license, body: { spec: { revokedVersions: ['1.1.0'] } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await untilAdmission(async () => !(await serverVerdict(kc, deploymentWith(customer, 'revoked', [image('1.1.0')]))).allowed);
      const verdict = await serverVerdict(kc, podWith(customer, 'revoked', [image('1.1.0')]));
      expect(verdict.message).toContain(`image ${image('1.1.0')} is not licensed`);
    });

    it('refuses an unlicensed ephemeral container added to a running pod', async () => {
      await core.createNamespacedPod({ namespace: customer, body: podWith(customer, 'debug-me', [image('1.0.0')]) });
      const pod = await core.readNamespacedPod({ name: 'debug-me', namespace: customer });
      pod.spec!.ephemeralContainers = [{ name: 'debugger', image: image('2.0.0') }];
      const error = await core.replaceNamespacedPodEphemeralcontainers({ name: 'debug-me', namespace: customer, body: pod }).then(() => undefined, apiError);
      expect(error?.message).toContain(`image ${image('2.0.0')} is not licensed`);
      pod.spec!.ephemeralContainers = [{ name: 'debugger', image: image('1.0.0') }];
      await core.replaceNamespacedPodEphemeralcontainers({ name: 'debug-me', namespace: customer, body: pod });
    });

    if (options.engine === 'policy') {
      it('keeps refusing with the operator stopped, and admits what is granted', async () => {
        await options.stopOperator();
        try {
          expect((await serverVerdict(kc, deploymentWith(customer, 'no-operator', [image('2.0.0')]))).allowed).toBe(false);
          expect((await serverVerdict(kc, deploymentWith(customer, 'no-operator', [image('1.0.0')]))).allowed).toBe(true);
        } finally {
          await options.restartOperator();
        }
      });
    } else {
      it('fails closed with the webhook down', async () => {
        await options.stopOperator();
        try {
          const verdict = await serverVerdict(kc, deploymentWith(customer, 'no-webhook', [image('1.0.0')]));
          expect(verdict.allowed).toBe(false);
          expect(verdict.message).toContain('failed calling webhook');
        } finally {
          await options.restartOperator();
        }
      });
    }
  });
}
