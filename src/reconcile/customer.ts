/**
 * Reconciles one Customer: gather from the caches, plan (pure), then write only the
 * difference — namespaces claimed and released, owned objects applied and pruned, statuses
 * and Events — and say when the clock next changes something.
 */
import type { KubeConfig, KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  API_VERSION,
  GROUP,
  VERSION,
  customerSpec,
  type AdmissionMode,
  type Customer,
  type LimitsWebhookMode,
  type License,
  type VersionPolicy,
  type ViolationAction,
} from '../api/index.js';
import type { KubeWriter } from '../kube/writer.js';
import { ADMISSION_LABEL, CREATED_BY_OPERATOR_ANNOTATION, CUSTOMER_LABEL, LIMITS_LABEL } from '../vocabulary/labels.js';
import { planCustomer, type CustomerPlan, type OwnedObject } from '../render/plan.js';
import { gateCredentialsByLicense } from '../render/gatecredentials.js';
import { gateCredentialsSecretName } from '../vocabulary/gate.js';
import type { Caches } from './caches.js';
import { CredentialsReader } from './credentials.js';
import { syncDefaultServiceAccounts } from './serviceaccounts.js';
import { containsEntries, sameJson } from './equality.js';
import { LedgerWriter } from './ledger.js';
import { customerLedgers, recordTrials } from './trials.js';
import { releaseUnbackedTokens } from './tokens.js';
import { labelledNamespaces, measureCustomerUsage } from './usage.js';
import { planLimitHolds } from './limit-sweep.js';
import type { MeasuredUsage } from '../render/usage.js';
import { recordMonthlyUsage } from './billing.js';
import { syncStatusConfigMaps } from './statusconfigmaps.js';
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
  /** Told, after the owned objects are written, what may keep running in each of the customer's namespaces (none: stop sweeping). */
  onSweepTargets: (customer: string, policies: VersionPolicy[], onViolation: ViolationAction, beyondLimits: ReadonlyMap<string, ReadonlyMap<string, string>>) => void;
  /** Writes the Ledgers (trial records, token releases). */
  ledgers: LedgerWriter;
  /** Nodes in the cluster (a DaemonSet desires one pod per node). */
  nodeCount?: () => number;
  /** Vendor keys and whether signatures are required; the cluster id comes from the kube-system namespace. */
  signing?: Omit<SigningSettings, 'clusterId' | 'verify'>;
}

/** The namespace whose UID names a cluster: what signed licenses are bound to. */
export const CLUSTER_ID_NAMESPACE = 'kube-system';

export class CustomerReconciler {
  private readonly credentials: CredentialsReader;
  /**
   * Statuses written, by "Kind/name", with the cached resourceVersion they replaced and the
   * customer they belong to. An entry lives only until the cache moves past that version, or
   * its object leaves the customer: the map stays as small as the writes in flight.
   */
  private readonly written = new Map<string, { before: string | undefined; status: unknown; customer: string }>();

  private readonly sequences: SignedSequenceRecorder;
  private readonly signing: Omit<SigningSettings, 'clusterId'>;

  constructor(private readonly deps: CustomerReconcilerDeps) {
    this.credentials = new CredentialsReader(deps.kc, deps.operatorNamespace, deps.caches.credentialSecrets);
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
    // Without the Customer there are no namespaces to measure: its licenses keep the usage they showed.
    const usage = cachedCustomer
      ? measureCustomerUsage(caches, name, licenses.map((l) => l.spec?.application), this.deps.nodeCount?.() ?? 1)
      : new Map<string, MeasuredUsage>();
    const plan = planCustomer({
      now,
      customerName: name,
      customer,
      applications,
      licenses,
      credentials: await this.credentials.gather([
        ...licenses.map((l) => l.spec.registryCredentialsSecret),
        ...applications.map((a) => a.spec.registry?.credentialsSecret),
      ]),
      namespaceOwners: this.namespaceOwners(customer?.spec?.namespaces ?? [name]),
      operatorNamespace: this.deps.operatorNamespace,
      ledgers: customerLedgers(caches.ledgers, name),
      usage,
      // Only this customer's licenses' Secrets, looked up by name (the renderer checks they are what they claim).
      gateCredentials: gateCredentialsByLicense(
        licenses.map((l) => caches.credentialSecrets.get(gateCredentialsSecretName(l.metadata.name), this.deps.operatorNamespace)).filter((s) => s !== undefined),
      ),
      signing: { ...this.signing, clusterId: caches.namespaces.get(CLUSTER_ID_NAMESPACE)?.metadata?.uid },
      acceptedSequences: this.sequences.accepted(name, licenses.map((l) => l.spec.application)),
    });
    this.deps.onPlanned?.(name, plan, licenses);
    // The accepted sequence is recorded before anything it grants is written.
    await this.sequences.record(name, plan.signedSequences);
    // Likewise a trial's start: the Ledger holds the record, statuses and grants follow it.
    await recordTrials(this.deps.ledgers, name, plan.trials, caches.ledgers);

    const deleting = customer?.metadata.deletionTimestamp !== undefined && customer?.metadata.deletionTimestamp !== null;
    if (customer && !deleting && !customer.metadata.finalizers?.includes(CUSTOMER_FINALIZER)) {
      await writer.apply({ apiVersion: API_VERSION, kind: 'Customer', metadata: { name, finalizers: [CUSTOMER_FINALIZER] } });
    }
    await this.syncNamespaces(name, plan.namespaces, plan.admission, plan.limitsWebhook);
    await this.syncOwnedObjects(name, plan.objects);
    const addToServiceAccounts = customerSpec.safeParse(customer?.spec).data?.addPullSecretsToDefaultServiceAccount ?? true;
    await syncDefaultServiceAccounts({ caches, writer, log: this.deps.log }, name, plan, addToServiceAccounts);
    // Running workloads are the sweep controller's: it learns what may keep running here.
    const onViolation = customerSpec.safeParse(customer?.spec).data?.enforcement.onViolation ?? 'ScaleToZero';
    const active = licenses.filter((l) => plan.evaluations.get(l.metadata.name)?.phase === 'Active');
    const limitHolds = customer && !deleting
      ? await planLimitHolds({ caches, ledgers: this.deps.ledgers, clock }, name, labelledNamespaces(caches, name), active, onViolation, this.deps.nodeCount?.() ?? 1)
      : undefined;
    this.deps.onSweepTargets(name, customer && !deleting ? plan.sweepPolicies : [], onViolation, limitHolds?.beyondLimits ?? new Map());
    await recordMonthlyUsage({ caches, ledgers: this.deps.ledgers, clock }, name, usage);
    const tokenRelease = await releaseUnbackedTokens({ caches, ledgers: this.deps.ledgers, clock }, name, plan.namespaces, this.deps.nodeCount?.() ?? 1);
    await this.writeStatuses(name, customer, licenses, plan);
    this.pruneWritten(name, new Set([...licenses.map((l) => `License/${l.metadata.name}`), ...(customer ? [`Customer/${name}`] : [])]));
    await syncStatusConfigMaps(caches, writer, name, plan.statusConfigMaps);
    for (const event of [...plan.events, ...(limitHolds?.events ?? []).map((e) => ({ ...e, kind: 'License' as const, name: e.license }))]) {
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
    const next = [plan.nextTransitionAt, tokenRelease, limitHolds?.next].filter((d): d is Date => d !== undefined).sort((a, b) => a.getTime() - b.getTime())[0];
    if (!next) return {};
    const wait = next.getTime() - now.getTime() + TRANSITION_SLACK_MS;
    return { requeueAfterMs: Math.min(Math.max(wait, 0), MAX_REQUEUE_MS) };
  }

  /**
   * The object with the status this reconciler last wrote, while the cache has not caught up
   * with that write yet (its resourceVersion is still the one seen before writing). Without
   * this, a reconcile right after a status write plans against the old status: it rewrites
   * the same status and records the same Events twice.
   */
  private withWrittenStatus<T extends License | Customer>(kind: string, object: T): T {
    const key = `${kind}/${object.metadata.name}`;
    const written = this.written.get(key);
    if (!written) return object;
    if (written.before === object.metadata.resourceVersion) return { ...object, status: written.status as T['status'] };
    this.written.delete(key); // the cache has caught up
    return object;
  }

  private recordWrittenStatus(kind: string, object: License | Customer, status: unknown, customer: string): void {
    this.written.set(`${kind}/${object.metadata.name}`, { before: object.metadata.resourceVersion, status, customer });
  }

  /** Forgets entries of this customer whose objects were not part of this reconcile (deleted, moved). */
  private pruneWritten(customer: string, seen: Set<string>): void {
    for (const [key, entry] of this.written) if (entry.customer === customer && !seen.has(key)) this.written.delete(key);
  }

  /** Entries kept (for tests: it must not grow with objects that come and go). */
  get writtenEntries(): number {
    return this.written.size;
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

  /**
   * Claims the wanted namespaces (creating missing ones) and releases the ones this customer
   * no longer lists. Namespaces are never deleted: they may hold the customer's data.
   */
  private async syncNamespaces(customer: string, wanted: string[], admission: AdmissionMode, limitsWebhook: LimitsWebhookMode | undefined): Promise<void> {
    const { caches, writer } = this.deps;
    const labels = { [CUSTOMER_LABEL]: customer, [ADMISSION_LABEL]: admission, ...(limitsWebhook ? { [LIMITS_LABEL]: limitsWebhook } : {}) };
    for (const name of wanted) {
      const existing = caches.namespaces.get(name);
      const staleLimits = !limitsWebhook && existing?.metadata?.labels?.[LIMITS_LABEL] !== undefined;
      if (containsEntries(existing?.metadata?.labels, labels) && !staleLimits) continue;
      if (existing) {
        const patch = staleLimits ? { ...labels, [LIMITS_LABEL]: null } : labels;
        await writer.mergePatch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: patch } } as unknown as KubernetesObject);
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
      const release = { [CUSTOMER_LABEL]: null, [ADMISSION_LABEL]: null, [LIMITS_LABEL]: null };
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
      this.recordWrittenStatus('License', license, status, name);
    }
    if (customer && plan.customerStatus && !sameJson(plan.customerStatus, customer.status)) {
      await writer.applyClusterStatus({ group: GROUP, version: VERSION, plural: 'customers', kind: 'Customer', name, status: plan.customerStatus });
      this.recordWrittenStatus('Customer', customer, plan.customerStatus, name);
    }
  }
}

function upToDate(live: OwnedObject, desired: OwnedObject): boolean {
  if (!containsEntries(live.metadata?.labels, desired.metadata?.labels)) return false;
  if (desired.kind === 'VersionPolicy') return sameJson((live as VersionPolicy).spec, (desired as VersionPolicy).spec);
  const secret = desired as V1Secret;
  return (live as V1Secret).type === secret.type && sameJson((live as V1Secret).data, secret.data);
}
