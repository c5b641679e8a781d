/**
 * Where the admission policy's time goes (issue #13), not a test: the same sequential Pod
 * creates against variants of the ValidatingAdmissionPolicy, all installed at once (each with
 * the real policy's three bindings, paramKind and paramRef, selecting its own namespace), in
 * round-robin batches so every variant sees the same machine load.
 *
 *   npm run bench:admission-cel [-- --creates 600 --batch 50 --variants a,b]
 *
 * Variants: a namespace no binding matches (the floor); controls with the real bindings and
 * params but trivial CEL; the policy before the cost work (bench/lib/policy-before.ts); and
 * the current policy (src/enforcement/policy.ts). Creates are admitted (the granted tag).
 */
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { API_VERSION, VERSION_POLICY_NAME } from '../src/api/index.js';
import { renderAdmissionBindings, renderAdmissionPolicy } from '../src/enforcement/policy.js';
import { applyObjects } from '../src/kube/apply.js';
import { reuseConnections } from '../src/kube/connections.js';
import { installCrds } from '../src/kube/crds.js';
import { startLocalCluster } from '../src/localcluster/index.js';
import { ADMISSION_LABEL, CUSTOMER_LABEL } from '../src/vocabulary/labels.js';
import { renderAdmissionPolicy as renderPolicyBefore } from './lib/policy-before.js';
import { summarize, table } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    creates: { type: 'string', default: '600' },
    batch: { type: 'string', default: '50' },
    variants: { type: 'string' },
  },
});
const CREATES = Number(values.creates);
const BATCH = Number(values.batch);
const REPO = 'registry.bench.example/acme/api';
const VARIANT_LABEL = 'bench.licensegate.dev/variant';
const EXEMPT = { exemptUsernames: ['nobody'] };

type Policy = ReturnType<typeof renderAdmissionPolicy>;
type Spec = Policy['spec'];

/** Each variant is the current policy's spec with parts replaced. */
const VARIANTS: { name: string; describe: string; spec: () => Record<string, unknown> | undefined }[] = [
  { name: 'none', describe: 'no binding matches (the floor)', spec: () => undefined },
  {
    name: 'trivial',
    describe: 'same bindings, paramKind, matchConditions; validation `true`',
    spec: () => ({ ...renderAdmissionPolicy(EXEMPT).spec, variables: [], validations: [{ expression: 'true' }] }),
  },
  {
    name: 'trivial-nomatch',
    describe: 'as trivial, without matchConditions',
    spec: () => ({ ...renderAdmissionPolicy(EXEMPT).spec, matchConditions: [], variables: [], validations: [{ expression: 'true' }] }),
  },
  {
    name: 'images',
    describe: 'as trivial, plus the images variable read by the validation',
    spec: () => {
      const base: Spec = renderAdmissionPolicy(EXEMPT).spec;
      const before = renderPolicyBefore(EXEMPT).spec;
      return { ...base, variables: [before.variables[0]!], validations: [{ expression: 'size(variables.images) > 0' }] };
    },
  },
  { name: 'before', describe: 'the policy before the cost work (7 list-of-map variables)', spec: () => renderPolicyBefore(EXEMPT).spec },
  {
    name: 'before-match',
    describe: 'before, plus the current match condition (skip unless an image is refused)',
    spec: () => {
      const before = renderPolicyBefore(EXEMPT).spec;
      const match = renderAdmissionPolicy(EXEMPT).spec.matchConditions.at(-1)!;
      return { ...before, matchConditions: [...before.matchConditions, match] };
    },
  },
  {
    name: 'current-nomatch',
    describe: 'current variables, without that match condition',
    spec: () => {
      const spec = renderAdmissionPolicy(EXEMPT).spec;
      return { ...spec, matchConditions: spec.matchConditions.slice(0, 1) };
    },
  },
  { name: 'current', describe: 'src/enforcement/policy.ts', spec: () => renderAdmissionPolicy(EXEMPT).spec },
];

const asBench = setHeaderOptions('Impersonate-User', 'bench', setHeaderOptions('Impersonate-Group', 'system:masters'));
const pod = (name: string): V1Pod => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: `${REPO}:1.0.0` }] } });

function objectsFor(name: string, spec: Record<string, unknown> | undefined) {
  const namespace = `v-${name}`;
  const objects: { apiVersion: string; kind: string; [field: string]: unknown }[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace, labels: { [CUSTOMER_LABEL]: 'bench', [ADMISSION_LABEL]: 'Deny', [VARIANT_LABEL]: name } },
    },
    {
      apiVersion: API_VERSION,
      kind: 'VersionPolicy',
      metadata: { name: VERSION_POLICY_NAME, namespace },
      spec: {
        customer: 'bench',
        admission: 'Deny',
        repositories: {
          [REPO]: { allowedTags: ['1.0.0', '1.1.0'], allowedDigests: [], licenses: ['bench'] },
          'docker.io/library/nginx': { allowedTags: ['1.25'], allowedDigests: [], licenses: ['bench-nginx'] },
        },
      },
    },
  ];
  if (!spec) return objects;
  const policyName = `bench-${name}`;
  objects.push({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: policyName }, spec });
  for (const binding of renderAdmissionBindings()) {
    const selector = binding.spec.matchResources.namespaceSelector;
    objects.push({
      ...binding,
      metadata: { name: `${policyName}-${binding.metadata.name.split('-').at(-1)}` },
      spec: {
        ...binding.spec,
        policyName,
        matchResources: { namespaceSelector: { matchExpressions: [...selector.matchExpressions, { key: VARIANT_LABEL, operator: 'In', values: [name] }] } },
      },
    });
  }
  return objects;
}

async function main() {
  const chosen = values.variants ? VARIANTS.filter((v) => v.name === 'none' || values.variants!.split(',').includes(v.name)) : VARIANTS;
  console.log(`licensegate admission policy breakdown: ${CREATES} creates per variant, batches of ${BATCH}, variants ${chosen.map((v) => v.name).join(', ')}`);
  const cluster = await startLocalCluster({ controllerManager: false });
  try {
    const kc = reuseConnections(new KubeConfig());
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    await installCrds(kc);
    for (const v of chosen) await applyObjects(kc, objectsFor(v.name, v.spec()));
    // Every policy is live once a refused image is refused in its namespace (not for the controls).
    await new Promise((r) => setTimeout(r, 3000));
    for (const v of chosen.filter((c) => !['none', 'trivial', 'trivial-nomatch', 'images'].includes(c.name))) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const refused = await core
          .createNamespacedPod({ namespace: `v-${v.name}`, body: { metadata: { name: 'probe' }, spec: { containers: [{ name: 'c', image: `${REPO}:9.9.9` }] } }, dryRun: 'All' }, asBench)
          .then(() => false, () => true);
        if (refused) break;
        if (Date.now() > deadline) throw new Error(`variant ${v.name} never refused`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const samples = new Map<string, number[]>(chosen.map((v) => [v.name, []]));
    const run = async (name: string, n: number, offset: number, record: boolean) => {
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        await core.createNamespacedPod({ namespace: `v-${name}`, body: pod(`p-${offset + i}`) }, asBench);
        if (record) samples.get(name)!.push(performance.now() - started);
      }
    };
    for (const v of chosen) await run(v.name, 30, 1_000_000, false);
    for (let done = 0; done < CREATES; done += BATCH) {
      for (const v of chosen) await run(v.name, Math.min(BATCH, CREATES - done), done, true);
    }
    const floor = summarize(samples.get('none')!);
    const rows = [['variant', 'n', 'p50', 'p99', 'added p50', 'added p99', 'what']];
    for (const v of chosen) {
      const s = summarize(samples.get(v.name)!);
      const added = (x: number) => (v.name === 'none' ? '' : `${x >= 0 ? '+' : ''}${x.toFixed(2)} ms`);
      rows.push([v.name, String(s.n), `${s.p50.toFixed(2)} ms`, `${s.p99.toFixed(2)} ms`, added(s.p50 - floor.p50), added(s.p99 - floor.p99), v.describe]);
    }
    console.log(`\nPod create latency, sequential, one kept-alive client:\n${table(rows)}`);
  } finally {
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
