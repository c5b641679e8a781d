/**
 * The gate's view of the cluster, read from informer caches: who a pull authenticates as,
 * what that license grants now, and where and how to reach the upstream for it. Licenses
 * are evaluated by the operator's own pure planning code (trials, add-ons, expiry, grace), so
 * the gate and the operator never disagree; results are cached per customer until the next
 * cache change or the next time-based transition, whichever comes first.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { Application, Customer, License } from '../api/index.js';
import type { LicenseEvaluation } from '../licensing/evaluate.js';
import { planCustomer } from '../render/plan.js';
import type { ObjectCache } from '../reconcile/caches.js';
import { gateCredentialsLicense, gateCredentialsSecretName } from '../vocabulary/gate.js';
import { registryGrant, type RegistryGrant } from './grant.js';
import { upstreamCredentials, type UpstreamCredentials } from './upstream.js';

export interface GateCaches {
  licenses: ObjectCache<License>;
  applications: ObjectCache<Application>;
  customers: ObjectCache<Customer>;
  /** Secrets of the gate's namespace: gate credentials and the vendor's upstream credentials. */
  secrets: ObjectCache<V1Secret>;
}

/** Where a license's pulls go upstream. */
export type UpstreamTarget =
  | { ok: true; server: string; credentials: UpstreamCredentials | undefined }
  | { ok: false; message: string };

export interface LicenseAccess {
  grant: RegistryGrant;
  upstream: UpstreamTarget;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class GateView {
  private generation = 0;
  private readonly evaluations = new Map<string, { generation: number; until: number; byLicense: Map<string, LicenseEvaluation> }>();
  /** Access per license, valid as long as its customer's evaluation is (same generation, before the next transition). */
  private readonly accesses = new Map<string, { generation: number; until: number; access: LicenseAccess }>();

  constructor(private readonly caches: GateCaches, private readonly namespace: string) {}

  /** Called on every informer change: cached evaluations are stale from now on. */
  invalidate(): void {
    this.generation++;
    this.evaluations.clear();
    this.accesses.clear();
  }

  /**
   * The license a Basic-auth pair authenticates as, or undefined. The password is compared in
   * constant time (as hashes, so lengths don't leak either); an unknown user costs the same.
   */
  authenticate(username: string, password: string): string | undefined {
    const secret = this.caches.secrets.get(gateCredentialsSecretName(username), this.namespace);
    const valid = secret !== undefined && gateCredentialsLicense(secret) === username && secret.type === 'kubernetes.io/basic-auth';
    const data = secret?.data ?? {};
    const expectedUser = data.username ? Buffer.from(data.username, 'base64').toString('utf8') : '';
    const expected = data.password ? Buffer.from(data.password, 'base64').toString('utf8') : '';
    const same = timingSafeEqual(sha256(password), sha256(expected || `\0unset\0${password}`));
    return valid && expected !== '' && expectedUser === username && same ? username : undefined;
  }

  /** What `licenseName` may pull at `now`, and how the gate reaches the upstream for it. */
  access(licenseName: string, now: Date): LicenseAccess | undefined {
    const cached = this.accesses.get(licenseName);
    if (cached && cached.generation === this.generation && now.getTime() < cached.until) return cached.access;
    const license = this.caches.licenses.get(licenseName);
    if (!license) return undefined;
    const app = this.caches.applications.get(license.spec.application);
    const evaluation = this.evaluate(license, now);
    let grant = registryGrant(license, evaluation, app);
    const registry = app?.spec.registry;
    if (grant.pulling && !registry?.gate) {
      grant = { ...grant, pulling: false, reason: 'NoGate', message: `application ${license.spec.application} has no spec.registry.gate: its images are not served by this gate`, repositories: new Map(), versions: [] };
    }
    const access = { grant, upstream: this.upstream(license, app) };
    const until = this.evaluations.get(license.spec.customer)?.until ?? now.getTime();
    this.accesses.set(licenseName, { generation: this.generation, until, access });
    return access;
  }

  /** Upstream repository (host/path) for a repository path at the gate. */
  static upstreamRepository(server: string, path: string): string {
    return `${server}/${path}`;
  }

  private upstream(license: License, app: Application | undefined): UpstreamTarget {
    const registry = app?.spec.registry;
    if (!registry) return { ok: false, message: `application ${license.spec.application} has no spec.registry` };
    const ref = license.spec.registryCredentialsSecret ?? registry.credentialsSecret;
    if (ref.namespace !== this.namespace) {
      return { ok: false, message: `credentials Secret ${ref.namespace}/${ref.name} is outside the gate's namespace ${this.namespace}; the gate reads credentials only there` };
    }
    const secret = this.caches.secrets.get(ref.name, ref.namespace);
    if (!secret) return { ok: false, message: `credentials Secret ${ref.namespace}/${ref.name} does not exist` };
    const parsed = upstreamCredentials(secret, registry.server);
    if (!parsed.ok) return { ok: false, message: `credentials Secret ${ref.namespace}/${ref.name}: ${parsed.message}` };
    return { ok: true, server: registry.server, credentials: parsed.credentials };
  }

  private evaluate(license: License, now: Date): LicenseEvaluation {
    const customerName = license.spec.customer;
    const cached = this.evaluations.get(customerName);
    const hit = cached && cached.generation === this.generation && now.getTime() < cached.until ? cached.byLicense.get(license.metadata.name) : undefined;
    if (hit) return hit;
    const plan = planCustomer({
      now,
      customerName,
      customer: this.caches.customers.get(customerName),
      applications: this.caches.applications.list(),
      licenses: this.caches.licenses.list().filter((l) => l.spec?.customer === customerName),
      // The gate needs evaluations only: no credentials, no namespaces.
      credentials: new Map(),
      namespaceOwners: new Map(),
    });
    const until = plan.nextTransitionAt?.getTime() ?? Number.POSITIVE_INFINITY;
    this.evaluations.set(customerName, { generation: this.generation, until, byLicense: plan.evaluations });
    return plan.evaluations.get(license.metadata.name)!;
  }
}
