/**
 * The benchmark's view of the cluster, by watching: which customer namespaces have the
 * VersionPolicy the fixture expects, which Licenses carry a phase, which namespaces have
 * their pull secret; and waiters that resolve the moment a VersionPolicy shows a tag.
 */
import { performance } from 'node:perf_hooks';
import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import { pino } from 'pino';
import { GROUP, VERSION, type License, type VersionPolicy } from '../../src/api/index.js';
import { Informer, type ObjectLike } from '../../src/kube/informer.js';
import { OWNED_SELECTOR } from '../../src/vocabulary/labels.js';
import { pullSecretName } from '../../src/render/pullsecret.js';
import { PULL_SECRET_APPLICATION, type Fixture } from './fixtures.js';

/** Informer warnings go to stderr; the report owns stdout. */
const log = pino({ level: 'warn' }, pino.destination(2));

type Target = 'policies' | 'phases' | 'pullSecrets';

interface TagWaiter {
  namespace: string;
  repositories: string[];
  tag: string;
  resolve: (at: number) => void;
}

export class ClusterWatch {
  readonly policies: Informer<VersionPolicy>;
  readonly licenses: Informer<License>;
  readonly secrets: Informer<V1Secret>;
  private readonly policyOk = new Set<string>();
  private readonly phased = new Set<string>();
  private readonly pullOk = new Set<string>();
  private readonly phases = new Map<string, string>();
  private readonly waiters = new Set<TagWaiter>();
  private readonly customers: Set<string>;
  /** performance.now() of milestones, by name. */
  readonly milestones = new Map<string, number>();
  private convergedResolve: ((at: number) => void) | undefined;
  private policyEvents = 0;
  private licenseEvents = 0;

  constructor(
    kc: KubeConfig,
    private readonly fixture: Fixture,
  ) {
    this.customers = new Set(fixture.customers);
    const crd = (plural: string) => `/apis/${GROUP}/${VERSION}/${plural}`;
    this.policies = new Informer<VersionPolicy>(kc, { path: crd('versionpolicies'), log });
    this.licenses = new Informer<License>(kc, { path: crd('licenses'), log });
    this.secrets = new Informer<V1Secret>(kc, { path: '/api/v1/secrets', labelSelector: OWNED_SELECTOR, log });
    this.policies.on('change', (p, type) => this.onPolicy(p, type === 'DELETED'));
    this.licenses.on('change', (l, type) => this.onLicense(l, type === 'DELETED'));
    this.secrets.on('change', (s, type) => this.onSecret(s, type === 'DELETED'));
  }

  /** Starts the informers and resolves once each has listed. */
  async start(): Promise<void> {
    for (const i of this.informers()) i.start();
    await Promise.all(this.informers().map((i) => i.synced));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers().map((i) => i.stop()));
  }

  /** Counts towards the convergence targets. */
  progress(): Record<Target, number> {
    return { policies: this.policyOk.size, phases: this.phased.size, pullSecrets: this.pullOk.size };
  }

  /** License phases seen, e.g. { Active: 2999, Invalid: 1 }. */
  phaseCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const phase of this.phases.values()) counts[phase] = (counts[phase] ?? 0) + 1;
    return counts;
  }

  /** VersionPolicy watch events seen so far. */
  get policyEventCount(): number {
    return this.policyEvents;
  }

  /** License watch events seen so far (a write the API server found to change nothing makes none). */
  get licenseEventCount(): number {
    return this.licenseEvents;
  }

  /** Resolves (with performance.now()) once every policy, phase and pull secret is as expected. */
  converged(): Promise<number> {
    return new Promise((resolve) => {
      this.convergedResolve = resolve;
      this.checkConverged();
    });
  }

  /**
   * Resolves with performance.now() of the watch event that shows `tag` in every one of
   * `repositories` of the namespace's VersionPolicy. Register before making the change.
   */
  waitForTag(namespace: string, repositories: string[], tag: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`VersionPolicy in ${namespace} did not show tag ${tag} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: TagWaiter = {
        namespace,
        repositories,
        tag,
        resolve: (at) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(at);
        },
      };
      this.waiters.add(waiter);
      const current = this.policies.get('licensegate', namespace);
      if (current && showsTag(current, repositories, tag)) waiter.resolve(performance.now());
    });
  }

  /** Re-checks every namespace's policy against the fixture (after edits); returns the mismatching namespaces. */
  recheckPolicies(): string[] {
    const bad: string[] = [];
    for (const customer of this.fixture.customers) {
      const policy = this.policies.get('licensegate', customer);
      if (!policy || !this.policyMatches(customer, policy)) bad.push(customer);
    }
    return bad;
  }

  private informers(): Informer<ObjectLike>[] {
    return [this.policies, this.licenses, this.secrets] as unknown as Informer<ObjectLike>[];
  }

  private mark(name: string): void {
    if (!this.milestones.has(name)) this.milestones.set(name, performance.now());
  }

  private onPolicy(policy: VersionPolicy, deleted: boolean): void {
    const at = performance.now();
    this.policyEvents++;
    const namespace = policy.metadata.namespace ?? '';
    if (!this.customers.has(namespace)) return;
    this.mark('first VersionPolicy');
    if (!deleted && this.policyMatches(namespace, policy)) this.policyOk.add(namespace);
    else this.policyOk.delete(namespace);
    const n = this.policyOk.size;
    if (n >= this.customers.size / 2) this.mark('50% VersionPolicies');
    if (n === this.customers.size) this.mark('all VersionPolicies');
    if (!deleted) for (const waiter of [...this.waiters]) if (waiter.namespace === namespace && showsTag(policy, waiter.repositories, waiter.tag)) waiter.resolve(at);
    this.checkConverged();
  }

  private onLicense(license: License, deleted: boolean): void {
    const name = license.metadata.name;
    if (!this.fixture.licenses.has(name)) return;
    this.licenseEvents++;
    const phase = license.status?.phase;
    if (!deleted && phase) {
      this.phased.add(name);
      this.phases.set(name, phase);
    } else {
      this.phased.delete(name);
      this.phases.delete(name);
    }
    if (this.phased.size === this.fixture.licenses.size) this.mark('all License phases');
    this.checkConverged();
  }

  private onSecret(secret: V1Secret, deleted: boolean): void {
    const namespace = secret.metadata?.namespace ?? '';
    if (!this.customers.has(namespace) || secret.metadata?.name !== pullSecretName(PULL_SECRET_APPLICATION)) return;
    if (!deleted && secret.type === 'kubernetes.io/dockerconfigjson' && secret.data?.['.dockerconfigjson']) this.pullOk.add(namespace);
    else this.pullOk.delete(namespace);
    if (this.pullOk.size === this.customers.size) this.mark('all pull secrets');
    this.checkConverged();
  }

  private checkConverged(): void {
    const n = this.customers.size;
    if (this.policyOk.size === n && this.phased.size === this.fixture.licenses.size && this.pullOk.size === n) {
      this.mark('converged');
      this.convergedResolve?.(this.milestones.get('converged')!);
      this.convergedResolve = undefined;
    }
  }

  private policyMatches(customer: string, policy: VersionPolicy): boolean {
    if (policy.spec?.customer !== customer) return false;
    const expected = this.fixture.expectedRepositories(customer);
    const actual = policy.spec.repositories ?? {};
    if (Object.keys(actual).length !== expected.size) return false;
    for (const [repo, want] of expected) {
      const got = actual[repo];
      if (!got) return false;
      if (!sameSorted(got.allowedTags, want.allowedTags)) return false;
      if (!sameSorted(got.allowedDigests, want.allowedDigests)) return false;
      if (!sameSorted(got.licenses, want.licenses)) return false;
    }
    return true;
  }
}

function showsTag(policy: VersionPolicy, repositories: string[], tag: string): boolean {
  return repositories.every((repo) => policy.spec?.repositories?.[repo]?.allowedTags?.includes(tag));
}

function sameSorted(actual: string[] | undefined, wantSorted: string[]): boolean {
  const got = [...(actual ?? [])].sort();
  return got.length === wantSorted.length && got.every((v, i) => v === wantSorted[i]);
}
