/**
 * One operator instance: informers feed a work queue of customer and application keys; the
 * leader's workers reconcile them. Standbys keep warm caches and take over when the lease
 * frees up.
 */
import { AuthenticationV1Api, type KubeConfig, type KubernetesObject, type V1ConfigMap, type V1Namespace, type V1Secret, type V1ServiceAccount } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, VERSION, VERSION_POLICY_NAME, ledgerName, type Application, type Customer, type Ledger, type License, type VersionPolicy } from './api/index.js';
import type { OperatorConfig } from './config.js';
import { renderAdmissionObjects } from './enforcement/policy.js';
import { renderProtectionObjects } from './enforcement/protection.js';
import { WEBHOOK_PATH, type WebhookClientConfig } from './enforcement/webhook-config.js';
import { serveWebhook, type WebhookServer } from './webhook/server.js';
import { reviewLimits, type LimitsContext } from './webhook/limits.js';
import type { WorkloadObject } from './licensing/usage.js';
import { limitUses } from './render/usage.js';
import { labelledNamespaces } from './reconcile/usage.js';
import { STATUS_CONFIGMAP_NAME } from './render/statusconfigmap.js';
import { readTlsBundle, reconcileWebhookCerts, WEBHOOK_TLS_SECRET } from './reconcile/webhook.js';
import { applyObjects, FIELD_MANAGER } from './kube/apply.js';
import { reuseConnections } from './kube/connections.js';
import { apiError } from './kube/errors.js';
import { Informer, type ObjectLike } from './kube/informer.js';
import { createInterner } from './kube/intern.js';
import { LeaderElector } from './kube/leader.js';
import { KubeWriter } from './kube/writer.js';
import { OperatorMetrics } from './metrics.js';
import { ApplicationReconciler } from './reconcile/application.js';
import { indexedCaches, type Caches, type ObjectCache, type WorkloadCache } from './reconcile/caches.js';
import type { Workload } from './enforcement/sweep.js';
import { WORKLOAD_RESOURCES } from './enforcement/workload.js';
import { CredentialsReader } from './reconcile/credentials.js';
import { projectWorkload } from './enforcement/workload-projection.js';
import { slimObject } from './vocabulary/object-meta.js';
import { CustomerReconciler } from './reconcile/customer.js';
import { SweepController, sweepRelevantChange } from './reconcile/sweep.js';
import { LedgerWriter } from './reconcile/ledger.js';
import { GateCredentialsReconciler } from './reconcile/gatecredentials.js';
import { GATE_TLS_SECRET, reconcileGateTls } from './reconcile/gatetls.js';
import { readPublicKeys } from './keys.js';
import { WorkQueue, type QueuePriority } from './reconcile/queue.js';
import { takeBackReleasedPullSecrets } from './reconcile/serviceaccounts.js';
import { gateCredentialsLicense } from './vocabulary/gate.js';
import { CUSTOMER_LABEL, OWNED_SELECTOR } from './vocabulary/labels.js';
import { DEFAULT_SERVICE_ACCOUNT } from './render/serviceaccount.js';

const CUSTOMER_KEY = 'customer:';
const SWEEP_KEY = 'sweep:';
const WEBHOOK_KEY = 'webhook:tls';
/** One key for all gate credentials: a pass over the licenses is cheap and writes only what is missing. */
const GATE_CREDENTIALS_KEY = 'gate:credentials';
const GATE_TLS_KEY = 'gate:tls';
/** One key for taking pull secrets back from the ServiceAccounts of namespaces no customer holds any more. */
const SERVICE_ACCOUNT_TAKE_BACK_KEY = 'serviceaccounts:take-back';

/** Names the webhook's certificate must carry: the Service's DNS names, or the host of an explicit URL. */
function webhookHosts(config: OperatorConfig): string[] {
  if (config.LICENSEGATE_WEBHOOK_URL) return [new URL(config.LICENSEGATE_WEBHOOK_URL).hostname];
  const svc = `${config.LICENSEGATE_WEBHOOK_SERVICE}.${config.LICENSEGATE_NAMESPACE}.svc`;
  return [svc, `${svc}.cluster.local`];
}
const APPLICATION_KEY = 'application:';

export interface OperatorOptions {
  kc: KubeConfig;
  config: OperatorConfig;
  log: Logger;
  metrics?: OperatorMetrics;
  clock?: () => Date;
  /** Called when the lease is lost; the process should exit (a fresh start re-syncs cleanly). */
  onLostLeadership?: () => void;
}

export class Operator {
  readonly metrics: OperatorMetrics;
  readonly writer: KubeWriter;
  private readonly ledgerWriter: LedgerWriter;
  private readonly informers: Informer<ObjectLike>[] = [];
  private readonly caches: Caches;
  private readonly queue: WorkQueue;
  private readonly elector: LeaderElector | undefined;
  private readonly customers: CustomerReconciler;
  private readonly sweeps: SweepController;
  private readonly applications: ApplicationReconciler;
  private readonly gateCredentials: GateCredentialsReconciler;
  private leading = false;
  private ownUsername: string | undefined;
  private webhook: WebhookServer | undefined;
  private webhookStarting: Promise<void> | undefined;
  private readonly nodes: Informer<KubernetesObject & ObjectLike>;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private synced = false;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: OperatorOptions) {
    const { config, log } = options;
    const kc = reuseConnections(options.kc);
    const clock = options.clock ?? (() => new Date());
    this.metrics = options.metrics ?? new OperatorMetrics();
    this.writer = new KubeWriter(kc, { onWrite: (verb, kind) => this.metrics.writes.inc({ verb, kind }), mayWrite: () => this.leading });
    this.ledgerWriter = new LedgerWriter(kc, {
      onWrite: () => this.metrics.writes.inc({ verb: 'update', kind: 'Ledger' }),
      onConflict: () => this.metrics.ledgerConflicts.inc(),
    });

    // Every cache drops managedFields and last-applied-configuration on ingest; workloads keep only a
    // projection; equal strings (tags, digests, reasons, labels) are shared across objects.
    const intern = createInterner();
    const informer = <T extends ObjectLike>(path: string, labelSelector?: string, fieldSelector?: string, transform: (o: ObjectLike) => ObjectLike = slimObject) => {
      const i = new Informer<T>(kc, { path, labelSelector, fieldSelector, log, transform: (o) => intern(transform(o)) });
      this.informers.push(i as unknown as Informer<ObjectLike>);
      return i;
    };
    const crd = (plural: string) => `/apis/${GROUP}/${VERSION}/${plural}`;
    const applications = informer<Application>(crd('applications'));
    const customers = informer<Customer>(crd('customers'));
    const licenses = informer<License>(crd('licenses'));
    const namespaces = informer<V1Namespace>('/api/v1/namespaces');
    const versionPolicies = informer<VersionPolicy>(crd('versionpolicies'), OWNED_SELECTOR);
    const ledgers = informer<Ledger>(crd('ledgers'));
    this.nodes = informer<KubernetesObject & ObjectLike>('/api/v1/nodes');
    const pullSecrets = informer<V1Secret>('/api/v1/secrets', OWNED_SELECTOR);
    // By name: RBAC grants the operator ConfigMaps of this one name only (list/watch by field selector).
    const statusConfigMaps = informer<V1ConfigMap & ObjectLike>('/api/v1/configmaps', OWNED_SELECTOR, `metadata.name=${STATUS_CONFIGMAP_NAME}`);
    const credentialSecrets = informer<V1Secret>(`/api/v1/namespaces/${config.LICENSEGATE_NAMESPACE}/secrets`);
    const serviceAccounts = new Informer<V1ServiceAccount>(kc, { path: '/api/v1/serviceaccounts', fieldSelector: `metadata.name=${DEFAULT_SERVICE_ACCOUNT}`, log, transform: (o) => intern(slimObject(o)) });
    this.informers.push(serviceAccounts as unknown as Informer<ObjectLike>);
    const workloads = WORKLOAD_RESOURCES.map((w) => {
      // Lists don't carry kind/apiVersion per item; the projection sets them (the sweep needs them to patch).
      const apiVersion = w.group === '' ? 'v1' : `${w.group}/v1`;
      const path = w.group === '' ? `/api/v1/${w.resource}` : `/apis/${w.group}/v1/${w.resource}`;
      const i = informer<Workload>(path, undefined, undefined, (o) => projectWorkload(o as Record<string, unknown>, apiVersion, w.kind) as ObjectLike);
      const cache: WorkloadCache = { list: () => i.list(), inNamespace: (namespace) => i.inNamespace(namespace), get: (name, ns) => i.get(name, ns) };
      // Only spec, annotation and deletion changes can change what the sweep does or what a
      // customer uses (status.usage, tokens to release, the status ConfigMap); status churn cannot.
      i.on('change', (o, type, old) => {
        if (type === 'MODIFIED' && !sweepRelevantChange(old, o)) return;
        const namespace = o.metadata?.namespace ?? '';
        if (this.sweeps.has(namespace)) this.queue.add(SWEEP_KEY + namespace);
        this.enqueueCustomer(namespaces.get(namespace)?.metadata?.labels?.[CUSTOMER_LABEL]);
      });
      return cache;
    });
    // Reconciles read one customer's objects through indexes, not by scanning every object.
    this.caches = indexedCaches({
      applications, customers, licenses, namespaces, versionPolicies, pullSecrets, statusConfigMaps, credentialSecrets, serviceAccounts, ledgers, workloads,
    });
    // A customer namespace's default ServiceAccount appears after the namespace (the ServiceAccount controller makes it).
    serviceAccounts.on('change', (sa) => this.enqueueCustomer(namespaces.get(sa.metadata?.namespace ?? '')?.metadata?.labels?.[CUSTOMER_LABEL]));
    ledgers.on('change', (l) => this.enqueueCustomer(l.spec?.customer));

    // Watch events only enqueue keys; reconciles re-read the caches.
    customers.on('change', (c) => this.enqueueCustomer(c.metadata?.name));
    licenses.on('change', (l, type) => {
      if (type === 'DELETED') this.metrics.forgetLicense(l.metadata.name, l.spec?.customer ?? '', l.spec?.application ?? '');
      this.enqueueCustomer(l.spec?.customer);
    });
    applications.on('change', (a, type, old) => {
      this.queue.add(APPLICATION_KEY + a.metadata?.name);
      // Every customer's policy gates every application, but only the spec matters to them: a
      // status write (the operator's own, after every spec change) must not re-plan them all.
      if (type === 'MODIFIED' && old && old.metadata?.generation === a.metadata?.generation) return;
      // Every customer, behind edits of single customers (like a resync).
      this.enqueueAllCustomers('low');
    });
    for (const owned of [versionPolicies, pullSecrets, statusConfigMaps, namespaces] as unknown as Informer<KubernetesObject>[]) {
      owned.on('change', (o) => this.enqueueCustomer(o.metadata?.labels?.[CUSTOMER_LABEL]));
    }
    // A namespace that lost its customer label (or may have: after a re-list there is no old copy)
    // gets the operator's pull secrets taken off its default ServiceAccount.
    namespaces.on('change', (ns, type, old) => {
      if (ns.metadata?.labels?.[CUSTOMER_LABEL] !== undefined || type !== 'MODIFIED') return;
      if (old === undefined || old.metadata?.labels?.[CUSTOMER_LABEL] !== undefined) this.queue.add(SERVICE_ACCOUNT_TAKE_BACK_KEY);
    });
    credentialSecrets.on('change', (secret) => {
      if (secret.metadata?.name === GATE_TLS_SECRET) {
        if (this.leading && config.LICENSEGATE_GATE_TLS_HOSTS.length > 0) this.queue.add(GATE_TLS_KEY);
        return;
      }
      if (secret.metadata?.name === WEBHOOK_TLS_SECRET) {
        if (this.leading) this.queue.add(WEBHOOK_KEY);
        void this.syncWebhookServer().catch((error: unknown) => log.error({ err: error }, 'webhook server failed'));
        return;
      }
      // A license's gate credentials matter to its customer alone (30,000 of them at scale must
      // not each queue every customer); any other Secret may be the registry credentials of many.
      const gatedLicense = gateCredentialsLicense(secret);
      if (gatedLicense !== undefined) {
        this.enqueueCustomer(licenses.get(gatedLicense)?.spec?.customer);
        return;
      }
      this.enqueueAllCustomers('low');
    });

    this.sweeps = new SweepController({
      writer: this.writer,
      log: log.child({ controller: 'sweep' }),
      workloads: this.caches.workloads,
      dryRun: config.LICENSEGATE_ENFORCEMENT_DRY_RUN,
      clock,
      metrics: this.metrics,
    });
    this.customers = new CustomerReconciler({
      kc,
      caches: this.caches,
      writer: this.writer,
      log,
      operatorNamespace: config.LICENSEGATE_NAMESPACE,
      clock,
      onSweepTargets: (customer, policies, onViolation, beyondLimits) => {
        for (const namespace of this.sweeps.setCustomerTargets(customer, policies, onViolation, beyondLimits)) this.queue.add(SWEEP_KEY + namespace);
      },
      ledgers: this.ledgerWriter,
      nodeCount: () => this.nodes.list().length,
      // Keys are read once, here: a bad key file stops the operator at start with its message.
      signing: {
        keys: config.LICENSEGATE_SIGNING_PUBLIC_KEYS ? readPublicKeys(config.LICENSEGATE_SIGNING_PUBLIC_KEYS) : new Map(),
        required: config.LICENSEGATE_SIGNING_REQUIRED,
      },
      onPlanned: (_customer, plan, licensesOfCustomer) => {
        for (const license of licensesOfCustomer) {
          const e = plan.evaluations.get(license.metadata.name);
          if (e) this.metrics.recordLicense(license.metadata.name, license.spec.customer, license.spec.application, e.phase, e.effectiveExpiresAt);
          const usage = plan.licenseStatuses.get(license.metadata.name)?.usage;
          const measured = { replicas: usage?.replicas ?? 0, namespaces: usage?.namespaces ?? [], seatHolders: usage?.seatHolders ?? [] };
          this.metrics.recordLimits(license.metadata.name, license.spec.customer, license.spec.application, limitUses(license, measured));
        }
      },
    });
    const credentials = new CredentialsReader(kc, config.LICENSEGATE_NAMESPACE, credentialSecrets);
    this.applications = new ApplicationReconciler({ caches: this.caches, writer: this.writer, clock, credentials, operatorNamespace: config.LICENSEGATE_NAMESPACE });
    this.gateCredentials = new GateCredentialsReconciler({
      kc,
      caches: this.caches,
      namespace: config.LICENSEGATE_NAMESPACE,
      log,
      onWrite: (verb) => this.metrics.writes.inc({ verb, kind: 'Secret' }),
    });
    for (const source of [licenses, applications, credentialSecrets] as unknown as Informer<ObjectLike>[]) {
      source.on('change', () => {
        if (this.leading) this.queue.add(GATE_CREDENTIALS_KEY);
      });
    }

    this.queue = new WorkQueue({
      concurrency: config.LICENSEGATE_WORKERS,
      log,
      handler: (key) => this.reconcile(key),
      onProcessed: (key, ms, outcome) => {
        const controller = key.startsWith(CUSTOMER_KEY)
          ? 'customer'
          : key.startsWith(SWEEP_KEY)
            ? 'sweep'
            : key === WEBHOOK_KEY
              ? 'webhook'
              : key.startsWith('gate:') || key === SERVICE_ACCOUNT_TAKE_BACK_KEY
                ? key
                : 'application';
        this.metrics.reconciles.inc({ controller, outcome });
        this.metrics.reconcileSeconds.observe({ controller }, ms / 1000);
        this.metrics.queueDepth.set(this.queue.length);
        log.debug({ key, ms: Math.round(ms), outcome }, 'reconciled');
      },
    });

    this.elector = config.LICENSEGATE_LEADER_ELECTION
      ? new LeaderElector(kc, {
          namespace: config.LICENSEGATE_NAMESPACE,
          name: config.LICENSEGATE_LEASE_NAME,
          identity: config.LICENSEGATE_IDENTITY,
          log,
          leaseDurationMs: config.LICENSEGATE_LEASE_DURATION_SECONDS * 1000,
          renewDeadlineMs: config.LICENSEGATE_LEASE_DURATION_SECONDS * 1000 * (2 / 3),
          retryPeriodMs: config.LICENSEGATE_LEASE_DURATION_SECONDS * 1000 * (2 / 15),
          onStartedLeading: () => this.startLeading(),
          onStoppedLeading: () => this.stopLeading(),
        })
      : undefined;
  }

  /** Whether the caches have synced (readiness). */
  get ready(): boolean {
    return this.synced;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once no key is queued or in flight (delayed requeues don't count): for tests and benchmarks. */
  async whenIdle(pollMs = 20): Promise<void> {
    while (this.queue.length > 0 || this.queue.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, pollMs));
  }

  /** Starts informers, waits for their first lists, then leads or stands by. */
  async start(): Promise<void> {
    const { config } = this.options;
    if (config.LICENSEGATE_INSTALL_ADMISSION_POLICY || config.LICENSEGATE_WEBHOOK) this.ownUsername = await this.whoAmI();
    if (config.LICENSEGATE_INSTALL_ADMISSION_POLICY) await this.installAdmissionPolicy(this.ownUsername!);
    for (const informer of this.informers) informer.start();
    await Promise.all(this.informers.map((i) => i.synced));
    this.synced = true;
    await this.syncWebhookServer();
    this.options.log.info({ identity: this.options.config.LICENSEGATE_IDENTITY }, 'caches synced');
    // Stopped while starting: never lead (and write) after stop() has returned.
    if (this.stopping) return;
    if (this.elector) this.elector.start();
    else this.startLeading();
  }

  /** The user this operator authenticates as: the policies exempt it. */
  private async whoAmI(): Promise<string> {
    const review = await this.options.kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    const username = review.status?.userInfo?.username;
    if (!username) throw new Error('cannot tell which user the operator runs as (SelfSubjectReview returned none)');
    return username;
  }

  /**
   * Applies the admission policies (the version check only where the admission policy is the
   * engine; the protection policies always), exempting the identity this operator runs as.
   */
  private async installAdmissionPolicy(username: string): Promise<void> {
    const engine = this.options.config.LICENSEGATE_ADMISSION_ENGINE;
    await applyObjects(this.options.kc, [
      ...(engine === 'policy' ? renderAdmissionObjects({ exemptUsernames: [username] }) : []),
      ...renderProtectionObjects({ exemptUsernames: [username] }),
    ], { fieldManager: FIELD_MANAGER });
    this.options.log.info({ exempt: username, engine }, 'admission policy installed');
  }

  /** Every replica serves the webhook once the leader has written its certificate; rotations swap it in place. */
  private async syncWebhookServer(): Promise<void> {
    const { config } = this.options;
    if (!config.LICENSEGATE_WEBHOOK || this.stopping) return;
    const bundle = readTlsBundle(this.caches.credentialSecrets, config.LICENSEGATE_NAMESPACE);
    if (!bundle) return;
    if (this.webhook) {
      this.webhook.setTls(bundle);
      return;
    }
    // One start at a time (Secret events come in bursts), and never a server left listening
    // by a start that finished after stop() began: the next process could not bind the port.
    if (this.webhookStarting) return this.webhookStarting;
    this.webhookStarting = this.startWebhookServer(bundle).finally(() => {
      this.webhookStarting = undefined;
    });
    return this.webhookStarting;
  }

  private async startWebhookServer(bundle: NonNullable<ReturnType<typeof readTlsBundle>>): Promise<void> {
    const { config, log } = this.options;
    const workloadByResource = new Map<string, ObjectCache<Workload>>(WORKLOAD_RESOURCES.map((w, i) => [w.resource, this.caches.workloads[i]!]));
    const server = await serveWebhook({
      port: config.LICENSEGATE_WEBHOOK_PORT,
      host: config.LICENSEGATE_WEBHOOK_BIND_ADDRESS,
      tls: bundle,
      log,
      ctx: {
        policyFor: (namespace) => this.caches.versionPolicies.get(VERSION_POLICY_NAME, namespace)?.spec,
        parentFor: (resource, namespace, name) => workloadByResource.get(resource)?.get(name, namespace),
      },
      onReviewed: (ms, allowed) => this.metrics.webhookSeconds.observe({ allowed: String(allowed) }, ms / 1000),
      limits: (request) => reviewLimits(request, this.limitsContext(workloadByResource)),
    });
    if (this.stopping) {
      await server.close();
      return;
    }
    this.webhook = server;
    log.info({ port: server.port }, 'webhook serving');
  }

  /** Sizes of the operator's bookkeeping maps: they must stay bounded by what exists (tests, debugging). */
  get bookkeeping(): { writtenStatuses: number; sweepTargets: number; reportedWorkloads: number } {
    const sweep = this.sweeps.entries;
    return { writtenStatuses: this.customers.writtenEntries, sweepTargets: sweep.targets, reportedWorkloads: sweep.reported };
  }

  /** What the limits webhook reads: the caches, and the Ledger writer for its claims. */
  private limitsContext(workloadByResource: Map<string, ObjectCache<Workload>>): LimitsContext {
    const { caches } = this;
    return {
      customerOfNamespace: (namespace) => caches.namespaces.get(namespace)?.metadata?.labels?.[CUSTOMER_LABEL],
      customer: (name) => caches.customers.get(name),
      namespacesOf: (customer) => labelledNamespaces(caches, customer),
      licensesOf: (customer) => caches.licenses.ofCustomer(customer),
      applications: () => caches.applications.list(),
      workloadsIn: (namespace) => caches.workloads.flatMap((cache) => cache.inNamespace(namespace)) as WorkloadObject[],
      parentFor: (resource, namespace, name) => workloadByResource.get(resource)?.get(name, namespace) as WorkloadObject | undefined,
      ledger: (customer, application) => caches.ledgers.get(ledgerName(customer, application)),
      nodeCount: () => this.nodes.list().length,
      ledgers: this.ledgerWriter,
      clock: this.options.clock ?? (() => new Date()),
      log: this.options.log,
    };
  }

  /** The port the webhook listens on, once it does. */
  get webhookPort(): number | undefined {
    return this.webhook?.port;
  }

  /**
   * Stops taking work, lets in-flight reconciles finish, releases the lease. Each step runs
   * even when an earlier one failed (a failed drain must not keep the lease held until it
   * expires); the first failure is rethrown at the end.
   */
  stop(): Promise<void> {
    // Idempotent: a second signal, or a caller's cleanup after a failed start, waits for the same stop.
    return (this.stopped ??= this.stopOnce());
  }

  private async stopOnce(): Promise<void> {
    this.stopping = true;
    clearInterval(this.resyncTimer);
    const failures: unknown[] = [];
    const step = async (run: () => Promise<void> | void) => {
      try {
        await run();
      } catch (error) {
        failures.push(error);
        this.options.log.error({ err: error }, 'operator stop step failed');
      }
    };
    await step(() => this.queue.shutdown());
    await step(() => this.elector?.stop());
    await step(async () => {
      await this.webhookStarting?.catch(() => undefined);
      await this.webhook?.close();
    });
    for (const informer of this.informers) await step(() => informer.stop());
    this.leading = false;
    this.metrics.isLeader.set(0);
    if (failures.length > 0) throw failures[0];
  }

  private startLeading(): void {
    if (this.leading) return;
    this.leading = true;
    this.metrics.isLeader.set(1);
    this.options.log.info({ identity: this.options.config.LICENSEGATE_IDENTITY }, 'leading');
    this.resyncAll();
    if (this.options.config.LICENSEGATE_WEBHOOK) this.queue.add(WEBHOOK_KEY);
    this.resyncTimer = setInterval(() => this.resyncAll(), this.options.config.LICENSEGATE_RESYNC_SECONDS * 1000);
    this.resyncTimer.unref();
  }

  /**
   * Leadership ended: writes stop at once (the writer is closed by `leading`), the queue drains,
   * and only then may the elector release the lease (it awaits this).
   */
  private async stopLeading(): Promise<void> {
    if (!this.leading) return;
    this.options.log.warn({ identity: this.options.config.LICENSEGATE_IDENTITY }, 'lost leadership');
    this.leading = false;
    this.metrics.isLeader.set(0);
    clearInterval(this.resyncTimer);
    try {
      await this.queue.shutdown();
    } finally {
      if (!this.stopping) this.options.onLostLeadership?.();
    }
  }

  /**
   * Everything the operator knows about, including customers only named by licenses or labels,
   * at low priority: a watch event's key (an edit) is handled before the rest of a resync.
   */
  private resyncAll(): void {
    const low = 'low';
    for (const app of this.caches.applications.list()) this.queue.add(APPLICATION_KEY + app.metadata.name, low);
    this.queue.add(GATE_CREDENTIALS_KEY, low);
    if (this.options.config.LICENSEGATE_GATE_TLS_HOSTS.length > 0) this.queue.add(GATE_TLS_KEY, low);
    this.queue.add(SERVICE_ACCOUNT_TAKE_BACK_KEY, low);
    this.enqueueAllCustomers(low);
    for (const namespace of this.sweeps.namespaces()) this.queue.add(SWEEP_KEY + namespace, low);
  }

  private enqueueAllCustomers(priority: QueuePriority): void {
    const names = new Set<string>();
    for (const c of this.caches.customers.list()) names.add(c.metadata.name);
    for (const l of this.caches.licenses.list()) if (l.spec?.customer) names.add(l.spec.customer);
    for (const cache of [this.caches.versionPolicies, this.caches.pullSecrets, this.caches.namespaces]) {
      for (const o of cache.list() as KubernetesObject[]) {
        const owner = o.metadata?.labels?.[CUSTOMER_LABEL];
        if (owner) names.add(owner);
      }
    }
    for (const name of names) this.queue.add(CUSTOMER_KEY + name, priority);
  }

  private async reconcileWebhook(): Promise<{ requeueAfterMs: number }> {
    const { config, kc, log } = this.options;
    const service = config.LICENSEGATE_WEBHOOK_SERVICE;
    const clientConfig: WebhookClientConfig = config.LICENSEGATE_WEBHOOK_URL
      ? { url: config.LICENSEGATE_WEBHOOK_URL }
      : { service: { namespace: config.LICENSEGATE_NAMESPACE, name: service, path: WEBHOOK_PATH, port: 443 } };
    return reconcileWebhookCerts({
      kc,
      writer: this.writer,
      log,
      namespace: config.LICENSEGATE_NAMESPACE,
      hosts: webhookHosts(config),
      secrets: this.caches.credentialSecrets,
      clock: this.options.clock ?? (() => new Date()),
      configuration: config.LICENSEGATE_INSTALL_ADMISSION_POLICY
        ? { engine: config.LICENSEGATE_ADMISSION_ENGINE, clientConfig, exemptUsernames: [this.ownUsername!] }
        : undefined,
    });
  }

  private enqueueCustomer(name: string | undefined): void {
    if (name) this.queue.add(CUSTOMER_KEY + name);
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    if (!this.leading) return {};
    try {
      if (key.startsWith(CUSTOMER_KEY)) return await this.customers.reconcile(key.slice(CUSTOMER_KEY.length));
      if (key.startsWith(SWEEP_KEY)) return await this.sweeps.reconcile(key.slice(SWEEP_KEY.length));
      if (key === WEBHOOK_KEY) return await this.reconcileWebhook();
      if (key === GATE_CREDENTIALS_KEY) return await this.gateCredentials.reconcile();
      if (key === SERVICE_ACCOUNT_TAKE_BACK_KEY) {
        await takeBackReleasedPullSecrets({ caches: this.caches, writer: this.writer, log: this.options.log });
        return {};
      }
      if (key === GATE_TLS_KEY) {
        const { config, log } = this.options;
        return await reconcileGateTls({ writer: this.writer, log, namespace: config.LICENSEGATE_NAMESPACE, hosts: config.LICENSEGATE_GATE_TLS_HOSTS, secrets: this.caches.credentialSecrets, clock: this.options.clock ?? (() => new Date()) });
      }
      return await this.applications.reconcile(key.slice(APPLICATION_KEY.length));
    } catch (error) {
      // The queue logs and retries; an API error is worth its status line, not its headers.
      const { code, reason, message } = apiError(error);
      throw code === 0 ? error : new Error(`API server answered ${code} ${reason}: ${message}`);
    }
  }
}
