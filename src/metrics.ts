/** Prometheus metrics of one operator instance (its own registry, so instances can share a process in tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LICENSE_PHASES } from './api/index.js';

export class OperatorMetrics {
  readonly registry = new Registry();

  readonly reconciles = new Counter({
    name: 'licensegate_reconcile_total',
    help: 'Reconciles by controller and outcome (success, requeue, error).',
    labelNames: ['controller', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly reconcileSeconds = new Histogram({
    name: 'licensegate_reconcile_duration_seconds',
    help: 'Time one reconcile takes, by controller.',
    labelNames: ['controller'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'licensegate_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    registers: [this.registry],
  });

  readonly writes = new Counter({
    name: 'licensegate_api_writes_total',
    help: 'Writes to the API server by verb and kind.',
    labelNames: ['verb', 'kind'] as const,
    registers: [this.registry],
  });

  readonly licenseExpiry = new Gauge({
    name: 'licensegate_license_expiry_timestamp_seconds',
    help: 'Effective expiry of each license (absent for perpetual licenses).',
    labelNames: ['license', 'customer', 'application'] as const,
    registers: [this.registry],
  });

  readonly licensePhase = new Gauge({
    name: 'licensegate_license_phase',
    help: 'One series per license, labelled with the phase it is in (value 1).',
    labelNames: ['license', 'customer', 'application', 'phase'] as const,
    registers: [this.registry],
  });

  readonly licenseUsage = new Gauge({
    name: 'licensegate_license_usage',
    help: 'What is used of each limit a license sets (limit: maxReplicas, concurrentNamespaces, seats).',
    labelNames: ['license', 'customer', 'application', 'limit'] as const,
    registers: [this.registry],
  });

  readonly licenseLimit = new Gauge({
    name: 'licensegate_license_limit',
    help: 'Each limit a license sets (limit: maxReplicas, concurrentNamespaces, seats).',
    labelNames: ['license', 'customer', 'application', 'limit'] as const,
    registers: [this.registry],
  });

  readonly webhookSeconds = new Histogram({
    name: 'licensegate_webhook_review_duration_seconds',
    help: 'Time the webhook takes to answer an AdmissionReview, by verdict.',
    labelNames: ['allowed'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
    registers: [this.registry],
  });

  readonly ledgerConflicts = new Counter({
    name: 'licensegate_ledger_conflicts_total',
    help: 'Ledger writes refused with 409 Conflict because another write came first; each is re-read and decided again.',
    registers: [this.registry],
  });

  readonly sweepActions = new Counter({
    name: 'licensegate_sweep_actions_total',
    help: 'Enforcement actions on running workloads by action and outcome (done, failed, dryRun).',
    labelNames: ['action', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly isLeader = new Gauge({
    name: 'licensegate_leader',
    help: '1 while this instance holds the leader lease.',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'licensegate_' });
  }

  /** The phase last recorded per license, so that a license keeps one phase series, not five. */
  private readonly phases = new Map<string, string>();

  /** Records a license's phase and expiry, replacing what was recorded for it before. */
  recordLicense(license: string, customer: string, application: string, phase: string, expiresAt: Date | undefined): void {
    const previous = this.phases.get(license);
    if (previous !== undefined && previous !== phase) this.licensePhase.remove({ license, customer, application, phase: previous });
    this.licensePhase.set({ license, customer, application, phase }, 1);
    this.phases.set(license, phase);
    if (expiresAt) this.licenseExpiry.set({ license, customer, application }, expiresAt.getTime() / 1000);
    else this.licenseExpiry.remove({ license, customer, application });
  }

  /** The limits last recorded per license, so a limit the vendor removes loses its series. */
  private readonly limits = new Map<string, string[]>();

  /** Records usage and limit of each limit the license sets now. */
  recordLimits(license: string, customer: string, application: string, uses: { limit: string; used: number; max: number }[]): void {
    for (const limit of this.limits.get(license) ?? []) {
      if (uses.some((u) => u.limit === limit)) continue;
      this.licenseUsage.remove({ license, customer, application, limit });
      this.licenseLimit.remove({ license, customer, application, limit });
    }
    for (const u of uses) {
      this.licenseUsage.set({ license, customer, application, limit: u.limit }, u.used);
      this.licenseLimit.set({ license, customer, application, limit: u.limit }, u.max);
    }
    this.limits.set(license, uses.map((u) => u.limit));
  }

  /** Forgets a deleted license. */
  forgetLicense(license: string, customer: string, application: string): void {
    for (const p of LICENSE_PHASES) this.licensePhase.remove({ license, customer, application, phase: p });
    this.phases.delete(license);
    this.licenseExpiry.remove({ license, customer, application });
    this.recordLimits(license, customer, application, []);
    this.limits.delete(license);
  }
}
