/** Prometheus metrics of the registry gate (its own registry, so several gates can share a process in tests). */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class GateMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'licensegate_gate_requests_total',
    help: 'Requests by route (base, catalog, tags, manifest, blob, other) and verdict (a GateReason: Allowed, TagNotGranted, Unauthenticated, …).',
    labelNames: ['route', 'verdict'] as const,
    registers: [this.registry],
  });

  readonly bytesServed = new Counter({
    name: 'licensegate_gate_bytes_served_total',
    help: 'Body bytes sent to clients, by route (manifest, blob).',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  readonly upstreamSeconds = new Histogram({
    name: 'licensegate_gate_upstream_request_duration_seconds',
    help: 'Time to the upstream registry\'s response headers, by route and status class (2xx, 4xx, 5xx, error).',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'licensegate_gate_' });
  }
}
