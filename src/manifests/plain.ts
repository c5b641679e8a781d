/**
 * The plain install (`kubectl apply -f manifests/`), as a cdk8s app: one chart per file.
 * cdk8s-plus builds the workload objects; RBAC and admission objects are raw API objects from
 * the same lists and render functions as the Helm chart.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject, App, Chart, Duration, Include, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { protectionObjects, versionCheckObjects, webhookConfiguration, type Manifest } from './admission.js';
import { CONTAINER_SECURITY_CONTEXT, operatorEnv, POD_SECURITY_CONTEXT, PROBES, RUN_AS_USER } from './deployment.js';
import { APP_VERSION, DEFAULT_IMAGE, DEFAULT_NAMESPACE, NAMES, operatorUsername, PORTS, REPO_ROOT } from './names.js';
import { clusterRules, namespaceRules, VIEWER_AGGREGATION_LABELS, viewerRules, webhookRules } from './rbac.js';

const SELECTOR = { 'app.kubernetes.io/name': NAMES.app, 'app.kubernetes.io/instance': NAMES.app };
const LABELS = { ...SELECTOR, 'app.kubernetes.io/version': APP_VERSION, 'app.kubernetes.io/part-of': NAMES.app };

/** Options of the plain install; the defaults are what manifests/ holds. */
export interface PlainOptions {
  namespace: string;
  image: string;
}

const DEFAULTS: PlainOptions = { namespace: DEFAULT_NAMESPACE, image: DEFAULT_IMAGE };

/** A raw object: its metadata merged with the chart's labels by cdk8s. */
function raw(scope: Construct, object: Manifest): ApiObject {
  const { apiVersion, kind, metadata, ...rest } = object;
  return new ApiObject(scope, `${kind}-${metadata.namespace ?? ''}-${metadata.name}`, { apiVersion, kind, metadata, ...rest });
}

/** The CRDs, as `npm run generate` wrote them to crds/. */
class CrdsChart extends Chart {
  constructor(scope: Construct) {
    super(scope, 'crds');
    const dir = join(REPO_ROOT, 'crds');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) new Include(this, file, { url: join(dir, file) });
  }
}

/** Namespace, ServiceAccount, RBAC, leader Lease, Deployment, metrics Service, disruption budget. */
class OperatorChart extends Chart {
  constructor(scope: Construct, options: PlainOptions) {
    const { namespace } = options;
    super(scope, 'operator', { labels: LABELS, disableResourceNameHashes: true });

    new kplus.Namespace(this, 'namespace', { metadata: { name: namespace } });
    const serviceAccount = new kplus.ServiceAccount(this, 'serviceaccount', {
      metadata: { name: NAMES.serviceAccount, namespace },
      // Only the operator's pods use it, and they mount their token explicitly.
      automountToken: false,
    });
    const subjects = [{ kind: 'ServiceAccount', name: serviceAccount.name, namespace }];
    const rbac = 'rbac.authorization.k8s.io';
    raw(this, { apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name: NAMES.clusterRole }, rules: clusterRules() });
    raw(this, {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: NAMES.clusterRole },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: NAMES.clusterRole },
      subjects,
    });
    raw(this, { apiVersion: `${rbac}/v1`, kind: 'Role', metadata: { name: NAMES.role, namespace }, rules: namespaceRules(NAMES.lease) });
    raw(this, {
      apiVersion: `${rbac}/v1`,
      kind: 'RoleBinding',
      metadata: { name: NAMES.role, namespace },
      roleRef: { apiGroup: rbac, kind: 'Role', name: NAMES.role },
      subjects,
    });
    raw(this, {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRole',
      metadata: { name: NAMES.viewerClusterRole, labels: { ...VIEWER_AGGREGATION_LABELS } },
      rules: viewerRules(),
    });
    // The webhook (on by default: license limits need it): keeping the caBundle of its configuration.
    raw(this, { apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name: NAMES.webhookClusterRole }, rules: webhookRules() });
    raw(this, {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: NAMES.webhookClusterRole },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: NAMES.webhookClusterRole },
      subjects,
    });
    // Created with the install so that removing the install removes it; the elected leader fills it in.
    raw(this, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: NAMES.lease, namespace }, spec: {} });

    const deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { name: NAMES.deployment, namespace },
      replicas: 2,
      select: false,
      podMetadata: { labels: SELECTOR },
      serviceAccount,
      automountServiceAccountToken: true,
      securityContext: { ensureNonRoot: true, user: RUN_AS_USER, group: RUN_AS_USER },
      strategy: kplus.DeploymentStrategy.rollingUpdate({ maxSurge: kplus.PercentOrAbsolute.absolute(1), maxUnavailable: kplus.PercentOrAbsolute.absolute(0) }),
      terminationGracePeriod: Duration.seconds(30),
      containers: [
        {
          name: 'operator',
          image: options.image,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          ports: [
            { name: 'http', number: PORTS.http, protocol: kplus.Protocol.TCP },
            { name: 'webhook', number: PORTS.webhook, protocol: kplus.Protocol.TCP },
          ],
          envVariables: {
            LICENSEGATE_NAMESPACE: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE),
            LICENSEGATE_IDENTITY: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
            ...Object.fromEntries(Object.entries(operatorEnv({ webhook: true, engine: 'policy', logLevel: 'info' })).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
          },
          securityContext: { ensureNonRoot: true, user: RUN_AS_USER, group: RUN_AS_USER, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false },
          resources: {
            cpu: { request: kplus.Cpu.millis(50) },
            memory: { request: Size.mebibytes(128), limit: Size.mebibytes(512) },
          },
          liveness: kplus.Probe.fromHttpGet(PROBES.liveness.httpGet.path, {
            port: PORTS.http,
            periodSeconds: Duration.seconds(PROBES.liveness.periodSeconds),
            timeoutSeconds: Duration.seconds(PROBES.liveness.timeoutSeconds),
            failureThreshold: PROBES.liveness.failureThreshold,
          }),
          readiness: kplus.Probe.fromHttpGet(PROBES.readiness.httpGet.path, {
            port: PORTS.http,
            periodSeconds: Duration.seconds(PROBES.readiness.periodSeconds),
            timeoutSeconds: Duration.seconds(PROBES.readiness.timeoutSeconds),
            failureThreshold: PROBES.readiness.failureThreshold,
          }),
          volumeMounts: [{ path: '/tmp', volume: kplus.Volume.fromEmptyDir(this, 'tmp', 'tmp', { sizeLimit: Size.mebibytes(64) }) }],
        },
      ],
    });
    deployment.select(kplus.LabelSelector.of({ labels: SELECTOR }));
    // What cdk8s-plus-27 has no props for: seccomp and dropped capabilities; and no need for
    // its construct-address label, since the selector is explicit.
    const container = '/spec/template/spec/containers/0';
    ApiObject.of(deployment).addJsonPatch(
      JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'),
      JsonPatch.replace(`${container}/securityContext`, { ...CONTAINER_SECURITY_CONTEXT, runAsUser: RUN_AS_USER, runAsGroup: RUN_AS_USER }),
      JsonPatch.replace('/spec/template/spec/securityContext', { ...POD_SECURITY_CONTEXT }),
    );

    new kplus.Service(this, 'metrics', {
      metadata: { name: NAMES.metricsService, namespace, labels: { 'app.kubernetes.io/component': 'metrics' } },
      type: kplus.ServiceType.CLUSTER_IP,
      selector: kplus.Pods.select(this, 'metrics-pods', { labels: SELECTOR }),
      ports: [{ name: 'http-metrics', port: PORTS.http, targetPort: PORTS.http, protocol: kplus.Protocol.TCP }],
    });

    // Every ready replica serves the webhook (the leader writes the certificate, all load it).
    new kplus.Service(this, 'webhook', {
      metadata: { name: NAMES.webhookService, namespace, labels: { 'app.kubernetes.io/component': 'webhook' } },
      type: kplus.ServiceType.CLUSTER_IP,
      selector: kplus.Pods.select(this, 'webhook-pods', { labels: SELECTOR }),
      ports: [{ name: 'https', port: 443, targetPort: PORTS.webhook, protocol: kplus.Protocol.TCP }],
    });

    raw(this, {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: NAMES.podDisruptionBudget, namespace },
      spec: { minAvailable: 1, selector: { matchLabels: SELECTOR } },
    });
  }
}

/** The admission policies: the version check, the protection of owned objects, the operator's confinement. */
class AdmissionChart extends Chart {
  constructor(scope: Construct, options: PlainOptions) {
    super(scope, 'admission', { labels: LABELS, disableResourceNameHashes: true });
    const username = operatorUsername(options.namespace);
    const webhook = webhookConfiguration({ engine: 'policy', namespace: options.namespace, service: NAMES.webhookService, operatorUsername: username });
    for (const object of [...versionCheckObjects(username), ...protectionObjects(username), webhook]) raw(this, object);
  }
}

/** File name → the objects in it, in apply order. */
export function plainManifests(options: Partial<PlainOptions> = {}): Map<string, Record<string, unknown>[]> {
  const resolved = { ...DEFAULTS, ...options };
  const app = new App();
  const files = new Map<string, Chart>([
    ['00-crds.yaml', new CrdsChart(app)],
    ['10-operator.yaml', new OperatorChart(app, resolved)],
    ['20-admission.yaml', new AdmissionChart(app, resolved)],
  ]);
  return new Map([...files].map(([file, chart]) => [file, chart.toJson() as Record<string, unknown>[]]));
}
