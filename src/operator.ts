/**
 * One operator instance: informers feed a work queue of customer and application keys; the
 * leader's workers reconcile them. Standbys keep warm caches and take over when the lease
 * frees up.
 */
import { AuthenticationV1Api, type KubeConfig, type KubernetesObject, type V1Namespace, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, VERSION, type Application, type Customer, type License, type VersionPolicy } from './api/index.js';
import type { OperatorConfig } from './config.js';
import { renderAdmissionObjects } from './enforcement/policy.js';
import { renderProtectionObjects } from './enforcement/protection.js';
import { applyObjects } from './kube/apply.js';
import { Informer, type ObjectLike } from './kube/informer.js';
import { LeaderElector } from './kube/leader.js';
import { KubeWriter } from './kube/writer.js';
import { OperatorMetrics } from './metrics.js';
import { ApplicationReconciler } from './reconcile/application.js';
import type { Caches, ObjectCache } from './reconcile/caches.js';
import type { Workload } from './enforcement/sweep.js';
import { WORKLOAD_RESOURCES } from './enforcement/workload.js';
import { CustomerReconciler } from './reconcile/customer.js';
import { WorkQueue } from './reconcile/queue.js';
import { CUSTOMER_LABEL, OWNED_SELECTOR } from './render/labels.js';

const CUSTOMER_KEY = 'customer:';
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
  private readonly informers: Informer<ObjectLike>[] = [];
  private readonly caches: Caches;
  private readonly queue: WorkQueue;
  private readonly elector: LeaderElector | undefined;
  private readonly customers: CustomerReconciler;
  private readonly applications: ApplicationReconciler;
  private leading = false;
  private stopping = false;
  private synced = false;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: OperatorOptions) {
    const { kc, config, log } = options;
    const clock = options.clock ?? (() => new Date());
    this.metrics = options.metrics ?? new OperatorMetrics();
    this.writer = new KubeWriter(kc, { onWrite: (verb, kind) => this.metrics.writes.inc({ verb, kind }) });

    const informer = <T extends ObjectLike>(path: string, labelSelector?: string) => {
      const i = new Informer<T>(kc, { path, labelSelector, log });
      this.informers.push(i as unknown as Informer<ObjectLike>);
      return i;
    };
    const crd = (plural: string) => `/apis/${GROUP}/${VERSION}/${plural}`;
    const applications = informer<Application>(crd('applications'));
    const customers = informer<Customer>(crd('customers'));
    const licenses = informer<License>(crd('licenses'));
    const namespaces = informer<V1Namespace>('/api/v1/namespaces');
    const versionPolicies = informer<VersionPolicy>(crd('versionpolicies'), OWNED_SELECTOR);
    const pullSecrets = informer<V1Secret>('/api/v1/secrets', OWNED_SELECTOR);
    const credentialSecrets = informer<V1Secret>(`/api/v1/namespaces/${config.LICENSEGATE_NAMESPACE}/secrets`);
    const workloads = WORKLOAD_RESOURCES.map((w) => {
      const i = informer<Workload>(w.group === '' ? `/api/v1/${w.resource}` : `/apis/${w.group}/v1/${w.resource}`);
      // Lists don't carry kind/apiVersion per item; the sweep needs them to patch.
      const apiVersion = w.group === '' ? 'v1' : `${w.group}/v1`;
      const typed: ObjectCache<Workload> = {
        list: () => i.list().map((o) => ({ ...o, apiVersion, kind: w.kind })),
        get: (name, ns) => {
          const o = i.get(name, ns);
          return o && { ...o, apiVersion, kind: w.kind };
        },
      };
      i.on('change', (o) => this.enqueueCustomer(namespaces.get(o.metadata?.namespace ?? '')?.metadata?.labels?.[CUSTOMER_LABEL]));
      return typed;
    });
    this.caches = { applications, customers, licenses, namespaces, versionPolicies, pullSecrets, credentialSecrets, workloads };

    // Watch events only enqueue keys; reconciles re-read the caches.
    customers.on('change', (c) => this.enqueueCustomer(c.metadata?.name));
    licenses.on('change', (l) => this.enqueueCustomer(l.spec?.customer));
    applications.on('change', (a) => {
      this.queue.add(APPLICATION_KEY + a.metadata?.name);
      this.enqueueAllCustomers();
    });
    for (const owned of [versionPolicies, pullSecrets, namespaces] as unknown as Informer<KubernetesObject>[]) {
      owned.on('change', (o) => this.enqueueCustomer(o.metadata?.labels?.[CUSTOMER_LABEL]));
    }
    credentialSecrets.on('change', () => this.enqueueAllCustomers());

    this.customers = new CustomerReconciler({
      kc,
      caches: this.caches,
      writer: this.writer,
      log,
      operatorNamespace: config.LICENSEGATE_NAMESPACE,
      clock,
      sweep: { workloads: this.caches.workloads, dryRun: config.LICENSEGATE_ENFORCEMENT_DRY_RUN, reported: new Set() },
      onPlanned: (_customer, plan, licensesOfCustomer) => {
        for (const license of licensesOfCustomer) {
          const e = plan.evaluations.get(license.metadata.name);
          if (e) this.metrics.recordLicense(license.metadata.name, license.spec.customer, license.spec.application, e.phase, e.effectiveExpiresAt);
        }
      },
    });
    this.applications = new ApplicationReconciler({ caches: this.caches, writer: this.writer, clock });

    this.queue = new WorkQueue({
      concurrency: config.LICENSEGATE_WORKERS,
      log,
      handler: (key) => this.reconcile(key),
      onProcessed: (key, ms, outcome) => {
        const controller = key.startsWith(CUSTOMER_KEY) ? 'customer' : 'application';
        this.metrics.reconciles.inc({ controller, outcome });
        this.metrics.reconcileSeconds.observe({ controller }, ms / 1000);
        this.metrics.queueDepth.set(this.queue.length);
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
    if (this.options.config.LICENSEGATE_INSTALL_ADMISSION_POLICY) await this.installAdmissionPolicy();
    for (const informer of this.informers) informer.start();
    await Promise.all(this.informers.map((i) => i.synced));
    this.synced = true;
    this.options.log.info({ identity: this.options.config.LICENSEGATE_IDENTITY }, 'caches synced');
    if (this.elector) this.elector.start();
    else this.startLeading();
  }

  /** Applies the admission policy and bindings, exempting the identity this operator runs as. */
  private async installAdmissionPolicy(): Promise<void> {
    const review = await this.options.kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    const username = review.status?.userInfo?.username;
    if (!username) throw new Error('cannot tell which user the operator runs as (SelfSubjectReview returned none)');
    await applyObjects(this.options.kc, [
      ...renderAdmissionObjects({ exemptUsernames: [username] }),
      ...renderProtectionObjects({ exemptUsernames: [username] }),
    ]);
    this.options.log.info({ exempt: username }, 'admission policy installed');
  }

  /** Stops taking work, lets in-flight reconciles finish, releases the lease. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.resyncTimer);
    await this.queue.shutdown();
    if (this.elector) await this.elector.stop();
    for (const informer of this.informers) informer.stop();
    this.leading = false;
    this.metrics.isLeader.set(0);
  }

  private startLeading(): void {
    if (this.leading) return;
    this.leading = true;
    this.metrics.isLeader.set(1);
    this.options.log.info({ identity: this.options.config.LICENSEGATE_IDENTITY }, 'leading');
    this.resyncAll();
    this.resyncTimer = setInterval(() => this.resyncAll(), this.options.config.LICENSEGATE_RESYNC_SECONDS * 1000);
    this.resyncTimer.unref();
  }

  private stopLeading(): void {
    if (!this.leading) return;
    this.options.log.warn({ identity: this.options.config.LICENSEGATE_IDENTITY }, 'lost leadership');
    this.leading = false;
    this.metrics.isLeader.set(0);
    clearInterval(this.resyncTimer);
    void this.queue.shutdown();
    if (!this.stopping) this.options.onLostLeadership?.();
  }

  /** Everything the operator knows about, including customers only named by licenses or labels. */
  private resyncAll(): void {
    for (const app of this.caches.applications.list()) this.queue.add(APPLICATION_KEY + app.metadata.name);
    this.enqueueAllCustomers();
  }

  private enqueueAllCustomers(): void {
    const names = new Set<string>();
    for (const c of this.caches.customers.list()) names.add(c.metadata.name);
    for (const l of this.caches.licenses.list()) if (l.spec?.customer) names.add(l.spec.customer);
    for (const cache of [this.caches.versionPolicies, this.caches.pullSecrets, this.caches.namespaces]) {
      for (const o of cache.list() as KubernetesObject[]) {
        const owner = o.metadata?.labels?.[CUSTOMER_LABEL];
        if (owner) names.add(owner);
      }
    }
    for (const name of names) this.queue.add(CUSTOMER_KEY + name);
  }

  private enqueueCustomer(name: string | undefined): void {
    if (name) this.queue.add(CUSTOMER_KEY + name);
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    if (!this.leading) return {};
    const log = this.options.log.child({ key });
    try {
      if (key.startsWith(CUSTOMER_KEY)) return await this.customers.reconcile(key.slice(CUSTOMER_KEY.length));
      return await this.applications.reconcile(key.slice(APPLICATION_KEY.length));
    } catch (error) {
      log.warn({ err: error }, 'reconcile failed');
      throw error;
    }
  }
}
