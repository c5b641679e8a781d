/**
 * Reconciles one Customer: gather from the caches, plan (pure), then write only the
 * difference — namespaces claimed and released, owned objects applied and pruned, statuses
 * and Events — and say when the clock next changes something.
 */
import { CoreV1Api, type KubeConfig, type KubernetesObject, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  API_VERSION,
  GROUP,
  VERSION,
  customerSpec,
  type AdmissionMode,
  type Customer,
  type License,
  type SecretReference,
  type VersionPolicy,
} from '../api/index.js';
import { isNotFound } from '../kube/errors.js';
import type { KubeWriter } from '../kube/writer.js';
import { ADMISSION_LABEL, CREATED_BY_OPERATOR_ANNOTATION, CUSTOMER_LABEL } from '../vocabulary/labels.js';
import { planCustomer, type CustomerPlan, type OwnedObject } from '../render/plan.js';
import { gateCredentialsByLicense } from '../render/gatecredentials.js';
import type { CredentialsSecret } from '../render/pullsecret.js';
import type { Caches } from './caches.js';
import { sweepCustomer, type SweepDeps } from './enforce.js';
import { syncDefaultServiceAccounts } from './serviceaccounts.js';
import { containsEntries, sameJson } from './equality.js';
import type { SigningSettings } from '../licensing/signed-licenses.js';
import { memoizedVerifier } from './signature-cache.js';
import { SignedSequenceRecorder } from './signed-sequence.js';

/** Finalizer that holds a deleted Customer until its namespaces are cleaned up. */
export const CUSTOMER_FINALIZER = 'licensegate.dev/cleanup';

/** The longest a reconcile waits for the clock; periodic resync covers the rest. */
const MAX_REQUEUE_MS = 24 * 3_600_000;
/** Requeue a little after a transition so that `now` is past it when the reconcile runs. */
const TRANSITION_SLACK_MS = 50;

export interface CustomerReconcilerDeps {
  kc: KubeConfig;
  caches: Caches;
  writer: KubeWriter;
  log: Logger;
  /** The operator's namespace: credentials Secrets there are read from the cache. */
  operatorNamespace: string;
  clock: () => Date;
  /** Told of every plan, for metrics. */
  onPlanned?: (customer: string, plan: CustomerPlan, licenses: License[]) => void;
  /** Workload caches and switches of the enforcement sweep. */
  sweep: Omit<SweepDeps, 'writer' | 'log' | 'clock'>;
  /** Vendor keys and whether signatures are required; the cluster id comes from the kube-system namespace. */
  signing?: Omit<SigningSettings, 'clusterId' | 'verify'>;
}

/** The namespace whose UID names a cluster: what signed licenses are bound to. */
export const CLUSTER_ID_NAMESPACE = 'kube-system';

export class CustomerReconciler {
  private readonly core: CoreV1Api;
  /** Statuses written, by "Kind/name", with the cached resourceVersion they replaced. */
  private readonly written = new Map<string, { before: string | undefined; status: unknown }>();

  private readonly sequences: SignedSequenceRecorder;
  private readonly signing: Omit<SigningSettings, 'clusterId'>;

  constructor(private readonly deps: CustomerReconcilerDeps) {
    this.core = deps.kc.makeApiClient(CoreV1Api);
    this.sequences = new SignedSequenceRecorder(deps.kc, deps);
    const keys = deps.signing?.keys ?? new Map();
    this.signing = { keys, required: deps.signing?.required ?? false, verify: memoizedVerifier(keys) };
  }

  /** Brings the customer's namespaces and statuses in line; returns when to look again. */
  async reconcile(name: string): Promise<{ requeueAfterMs?: number }> {
    const { caches, writer, clock } = this.deps;
    const now = clock();
    const cachedCustomer = caches.customers.get(name);
    const customer = cachedCustomer && this.withWrittenStatus('Customer', cachedCustomer);
    const licenses = caches.licenses.ofCustomer(name).map((l) => this.withWrittenStatus('License', l));
    const applications = caches.applications.list();
    const plan = planCustomer({
      now,
      customerName: name,
      customer,
      applications,
      licenses,
      credentials: await this.gatherCredentials(licenses, applications.map((a) => a.spec.registry?.credentialsSecret)),
      namespaceOwners: this.namespaceOwners(customer?.spec?.namespaces ?? [name]),
      gateCredentials: gateCredentialsByLicense(caches.credentialSecrets.list()),
      signing: { ...this.signing, clusterId: caches.namespaces.get(CLUSTER_ID_NAMESPACE)?.metadata?.uid },
      acceptedSequences: this.sequences.accepted(name, licenses.map((l) => l.spec.application)),
    });
    this.deps.onPlanned?.(name, plan, licenses);
    // The accepted sequence is recorded before anything it grants is written.
    await this.sequences.record(name, plan.signedSequences);

    const deleting = customer?.metadata.deletionTimestamp !== undefined && customer?.metadata.deletionTimestamp !== null;
    if (customer && !deleting && !customer.metadata.finalizers?.includes(CUSTOMER_FINALIZER)) {
      await writer.apply({ apiVersion: API_VERSION, kind: 'Customer', metadata: { name, finalizers: [CUSTOMER_FINALIZER] } });
    }
    await this.syncNamespaces(name, plan.namespaces, plan.admission);
    await this.syncOwnedObjects(name, plan.objects);
    const addToServiceAccounts = customerSpec.safeParse(customer?.spec).data?.addPullSecretsToDefaultServiceAccount ?? true;
    await syncDefaultServiceAccounts({ caches, writer, log: this.deps.log }, name, plan, addToServiceAccounts);
    if (customer && !deleting && plan.sweepPolicies.length > 0) {
      const onViolation = customerSpec.safeParse(customer.spec).data?.enforcement.onViolation ?? 'ScaleToZero';
      await sweepCustomer({ ...this.deps.sweep, writer, log: this.deps.log.child({ customer: name }), clock }, plan.sweepPolicies, onViolation);
    }
    await this.writeStatuses(name, customer, licenses, plan);
    for (const event of plan.events) {
      const subject = event.kind === 'License' ? licenses.find((l) => l.metadata.name === event.name) : customer;
      await writer.event(
        { apiVersion: API_VERSION, kind: event.kind, name: event.name, uid: subject?.metadata.uid },
        event.type,
        event.reason,
        event.message,
        now,
      );
    }
    if (customer && deleting && customer.metadata.finalizers?.includes(CUSTOMER_FINALIZER)) {
      // Everything is cleaned up: let the deletion finish. The merge patch drops only our finalizer.
      await writer.mergePatch({
        apiVersion: API_VERSION,
        kind: 'Customer',
        metadata: { name, resourceVersion: customer.metadata.resourceVersion, finalizers: customer.metadata.finalizers.filter((f) => f !== CUSTOMER_FINALIZER) },
      } as KubernetesObject);
    }
    if (!plan.nextTransitionAt) return {};
    const wait = plan.nextTransitionAt.getTime() - now.getTime() + TRANSITION_SLACK_MS;
    return { requeueAfterMs: Math.min(Math.max(wait, 0), MAX_REQUEUE_MS) };
  }

  /**
   * The object with the status this reconciler last wrote, while the cache has not caught up
   * with that write yet (its resourceVersion is still the one seen before writing). Without
   * this, a reconcile right after a status write plans against the old status: it rewrites
   * the same status and records the same Events twice.
   */
  private withWrittenStatus<T extends License | Customer>(kind: string, object: T): T {
    const written = this.written.get(`${kind}/${object.metadata.name}`);
    return written && written.before === object.metadata.resourceVersion ? { ...object, status: written.status as T['status'] } : object;
  }

  private recordWrittenStatus(kind: string, object: License | Customer, status: unknown): void {
    this.written.set(`${kind}/${object.metadata.name}`, { before: object.metadata.resourceVersion, status });
  }

  /** Who owns each of `names` (the namespaces the customer asks for: the plan reads no others). */
  private namespaceOwners(names: unknown): Map<string, string> {
    const owners = new Map<string, string>();
    for (const name of Array.isArray(names) ? names : []) {
      const owner = typeof name === 'string' ? this.deps.caches.namespaces.get(name)?.metadata?.labels?.[CUSTOMER_LABEL] : undefined;
      if (owner) owners.set(name as string, owner);
    }
    return owners;
  }

  private async gatherCredentials(licenses: License[], appRefs: (SecretReference | undefined)[]): Promise<Map<string, CredentialsSecret>> {
    const refs = [...licenses.map((l) => l.spec.registryCredentialsSecret), ...appRefs].filter((r): r is SecretReference => r !== undefined);
    const found = new Map<string, CredentialsSecret>();
    for (const ref of refs) {
      const key = `${ref.namespace}/${ref.name}`;
      if (found.has(key)) continue;
      const secret = ref.namespace === this.deps.operatorNamespace
        ? this.deps.caches.credentialSecrets.get(ref.name, ref.namespace)
        : await this.readSecret(ref);
      if (secret) found.set(key, { type: secret.type, data: secret.data });
    }
    return found;
  }

  private async readSecret(ref: SecretReference): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Claims the wanted namespaces (creating missing ones) and releases the ones this customer
   * no longer lists. Namespaces are never deleted: they may hold the customer's data.
   */
  private async syncNamespaces(customer: string, wanted: string[], admission: AdmissionMode): Promise<void> {
    const { caches, writer } = this.deps;
    const labels = { [CUSTOMER_LABEL]: customer, [ADMISSION_LABEL]: admission };
    for (const name of wanted) {
      const existing = caches.namespaces.get(name);
      if (containsEntries(existing?.metadata?.labels, labels)) continue;
      if (existing) {
        await writer.mergePatch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
      } else {
        await writer.apply({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name, labels, annotations: { [CREATED_BY_OPERATOR_ANNOTATION]: 'true' } },
        });
      }
      this.deps.log.info({ customer, namespace: name }, 'namespace claimed');
    }
    for (const ns of caches.namespaces.ofCustomer(customer)) {
      const name = ns.metadata!.name!;
      if (ns.metadata?.labels?.[CUSTOMER_LABEL] !== customer || wanted.includes(name)) continue;
      if (ns.metadata?.deletionTimestamp) continue;
      const release = { [CUSTOMER_LABEL]: null, [ADMISSION_LABEL]: null };
      await writer.mergePatch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: release } } as unknown as KubernetesObject);
      this.deps.log.info({ customer, namespace: name }, 'namespace released');
    }
  }

  /** Applies desired objects that differ from the cache and deletes owned ones not desired. */
  private async syncOwnedObjects(customer: string, desired: OwnedObject[]): Promise<void> {
    const { caches, writer } = this.deps;
    const key = (o: KubernetesObject) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`;
    const wanted = new Set(desired.map((o) => key(o as KubernetesObject)));
    for (const object of desired) {
      const live = object.kind === 'VersionPolicy'
        ? caches.versionPolicies.get(object.metadata!.name!, object.metadata!.namespace)
        : caches.pullSecrets.get(object.metadata!.name!, object.metadata!.namespace);
      if (live && upToDate(live as OwnedObject, object)) continue;
      // A namespace being deleted takes no new objects; the next reconcile sees it gone.
      if (caches.namespaces.get(object.metadata!.namespace!)?.metadata?.deletionTimestamp) continue;
      await writer.apply(object as KubernetesObject);
    }
    const owned: KubernetesObject[] = [
      ...caches.versionPolicies.ofCustomer(customer).map((o) => ({ ...o, kind: 'VersionPolicy', apiVersion: API_VERSION }) as KubernetesObject),
      ...caches.pullSecrets.ofCustomer(customer).map((o) => ({ ...o, kind: 'Secret', apiVersion: 'v1' }) as KubernetesObject),
    ];
    for (const object of owned) {
      if (object.metadata?.labels?.[CUSTOMER_LABEL] !== customer || wanted.has(key(object))) continue;
      await writer.delete({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: object.metadata.namespace } });
    }
  }

  private async writeStatuses(name: string, customer: Customer | undefined, licenses: License[], plan: CustomerPlan): Promise<void> {
    const { writer } = this.deps;
    for (const license of licenses) {
      const status = plan.licenseStatuses.get(license.metadata.name);
      if (!status || sameJson(status, license.status)) continue;
      await writer.applyClusterStatus({ group: GROUP, version: VERSION, plural: 'licenses', kind: 'License', name: license.metadata.name, status });
      this.recordWrittenStatus('License', license, status);
    }
    if (customer && plan.customerStatus && !sameJson(plan.customerStatus, customer.status)) {
      await writer.applyClusterStatus({ group: GROUP, version: VERSION, plural: 'customers', kind: 'Customer', name, status: plan.customerStatus });
      this.recordWrittenStatus('Customer', customer, plan.customerStatus);
    }
  }
}

function upToDate(live: OwnedObject, desired: OwnedObject): boolean {
  if (!containsEntries(live.metadata?.labels, desired.metadata?.labels)) return false;
  if (desired.kind === 'VersionPolicy') return sameJson((live as VersionPolicy).spec, (desired as VersionPolicy).spec);
  const secret = desired as V1Secret;
  return (live as V1Secret).type === secret.type && sameJson((live as V1Secret).data, secret.data);
}
