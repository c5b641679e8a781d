/**
 * The benchmark's world: three Applications (two images and a 20-release catalogue each), N
 * Customers with one namespace each, and one License per customer and application, with
 * version specs cycling through exact versions, ranges and mixes. It also answers, from the
 * same model, what each customer namespace's VersionPolicy must say.
 */
import { createHash } from 'node:crypto';
import semver from 'semver';
import { API_VERSION } from '../../src/api/index.js';

export const OPERATOR_NAMESPACE = 'licensegate-system';
export const CREDENTIALS_SECRET = 'bench-registry';
export const REGISTRY_SERVER = 'registry.bench.example';

export interface BenchApplication {
  name: string;
  images: string[];
  tagFormat: string;
  versions: string[];
  withDigests: boolean;
  /** Whether the Application names registry credentials (so its licenses get pull secrets). */
  withRegistry: boolean;
}

export interface BenchLicense {
  name: string;
  customer: string;
  application: string;
  /** spec.versions as last written by the benchmark. */
  versions: string[];
  expiresAt: string | undefined;
}

/** 1.0.0 … 1.9.0, 2.0.0 … 2.9.0. */
const CATALOGUE = [1, 2].flatMap((major) => Array.from({ length: 10 }, (_, minor) => `${major}.${minor}.0`));

/** Version specs the licenses cycle through: exact versions, ranges, caret ranges, mixes. */
const VERSION_SPECS: string[][] = [['1.2.0', '1.4.0'], ['>=1.5.0 <2.0.0'], ['^2.0.0'], ['1.0.0', '>=2.5.0 <3.0.0']];

export const APPLICATIONS: BenchApplication[] = [
  { name: 'bench-alpha', images: [`${REGISTRY_SERVER}/alpha/api`, `${REGISTRY_SERVER}/alpha/worker`], tagFormat: '{version}', versions: CATALOGUE, withDigests: true, withRegistry: true },
  { name: 'bench-beta', images: [`${REGISTRY_SERVER}/beta/api`, `${REGISTRY_SERVER}/beta/ui`], tagFormat: '{version}', versions: CATALOGUE, withDigests: true, withRegistry: false },
  { name: 'bench-gamma', images: [`${REGISTRY_SERVER}/gamma/server`, `${REGISTRY_SERVER}/gamma/agent`], tagFormat: 'v{version}', versions: CATALOGUE, withDigests: false, withRegistry: false },
];

/** Pull secrets are written for this application's licenses. */
export const PULL_SECRET_APPLICATION = APPLICATIONS.find((a) => a.withRegistry)!.name;

export const customerName = (i: number) => `bench-c${String(i).padStart(5, '0')}`;
export const licenseName = (customer: string, application: string) => `${customer}-${application.replace(/^bench-/, '')}`;

/** A fake but well-formed, deterministic digest of one image at one version. */
export function digestOf(image: string, version: string): string {
  return `sha256:${createHash('sha256').update(`${image}@${version}`).digest('hex')}`;
}

export function tagOf(app: BenchApplication, version: string): string {
  return app.tagFormat.replaceAll('{version}', version);
}

/** The benchmark's fixture and its expectations. */
export class Fixture {
  readonly customers: string[];
  readonly licenses = new Map<string, BenchLicense>();
  private readonly appsByName = new Map(APPLICATIONS.map((a) => [a.name, a]));

  constructor(readonly customerCount: number) {
    this.customers = Array.from({ length: customerCount }, (_, i) => customerName(i));
    this.customers.forEach((customer, i) => {
      APPLICATIONS.forEach((app, j) => {
        const name = licenseName(customer, app.name);
        this.licenses.set(name, {
          name,
          customer,
          application: app.name,
          versions: [...VERSION_SPECS[(i + j) % VERSION_SPECS.length]!],
          // Every fifth customer's licenses carry an expiry (far away: they stay Active).
          expiresAt: i % 5 === 0 ? '2035-01-01T00:00:00Z' : undefined,
        });
      });
    });
  }

  application(name: string): BenchApplication {
    return this.appsByName.get(name)!;
  }

  applicationObjects(): object[] {
    return APPLICATIONS.map((app) => ({
      apiVersion: API_VERSION,
      kind: 'Application',
      metadata: { name: app.name },
      spec: {
        displayName: `Benchmark ${app.name}`,
        images: app.images,
        tagFormat: app.tagFormat,
        versions: app.versions.map((version) => ({
          version,
          ...(app.withDigests ? { digests: Object.fromEntries(app.images.map((image) => [image, digestOf(image, version)])) } : {}),
        })),
        ...(app.withRegistry
          ? { registry: { server: REGISTRY_SERVER, credentialsSecret: { namespace: OPERATOR_NAMESPACE, name: CREDENTIALS_SECRET } } }
          : {}),
      },
    }));
  }

  customerObject(name: string): object {
    return {
      apiVersion: API_VERSION,
      kind: 'Customer',
      metadata: { name },
      spec: { displayName: `Customer ${name}`, contact: `ops@${name}.example` },
    };
  }

  licenseObject(license: BenchLicense): object {
    return {
      apiVersion: API_VERSION,
      kind: 'License',
      metadata: { name: license.name },
      spec: {
        customer: license.customer,
        application: license.application,
        versions: license.versions,
        ...(license.expiresAt ? { expiresAt: license.expiresAt } : {}),
      },
    };
  }

  /** Catalogue versions (or exact versions outside it) that `license` grants now. */
  grantedVersions(license: BenchLicense): string[] {
    const catalogue = this.application(license.application).versions;
    const granted = new Set<string>();
    for (const constraint of license.versions) {
      if (semver.valid(constraint)) granted.add(constraint);
      else for (const v of catalogue) if (semver.satisfies(v, constraint)) granted.add(v);
    }
    return [...granted].sort(semver.compare);
  }

  /** A catalogue version the license does not grant yet (the lowest), for an edit. */
  ungrantedVersion(license: BenchLicense): string | undefined {
    const granted = new Set(this.grantedVersions(license));
    return this.application(license.application).versions.find((v) => !granted.has(v));
  }

  /** What the customer namespace's VersionPolicy must grant: repository → sorted tags, digests, licenses. */
  expectedRepositories(customer: string): Map<string, { allowedTags: string[]; allowedDigests: string[]; licenses: string[] }> {
    const repos = new Map<string, { allowedTags: string[]; allowedDigests: string[]; licenses: string[] }>();
    for (const app of APPLICATIONS) {
      const license = this.licenses.get(licenseName(customer, app.name))!;
      const versions = this.grantedVersions(license);
      for (const image of app.images) {
        repos.set(image, {
          allowedTags: versions.map((v) => tagOf(app, v)).sort(),
          allowedDigests: app.withDigests ? versions.filter((v) => app.versions.includes(v)).map((v) => digestOf(image, v)).sort() : [],
          licenses: versions.length > 0 ? [license.name] : [],
        });
      }
    }
    return repos;
  }
}

/** Where the benchmark puts workloads no customer owns (the operator's caches see them anyway). */
export const FOREIGN_NAMESPACE = 'bench-foreign';

/** An image outside every Application: admission lets it through anywhere. */
const UNGATED_IMAGE = 'registry.bench.example/tools/sidecar:3.1.4';

/**
 * A pod template of the size real ones have (env, resources, probes, volumes), so the operator's
 * workload caches hold what a cluster would give them.
 */
export function realisticPodSpec(app: string): Record<string, unknown> {
  const container = (name: string) => ({
    name,
    image: UNGATED_IMAGE,
    args: ['--listen=:8080', '--log-format=json', `--app=${app}`],
    env: Array.from({ length: 8 }, (_, i) => ({ name: `SETTING_${i}`, value: `value-${i}-${app}` })),
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 },
    livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 },
    volumeMounts: [{ name: 'config', mountPath: '/etc/app' }, { name: 'data', mountPath: '/var/lib/app' }],
  });
  return {
    containers: [container('app'), container('sidecar')],
    volumes: [{ name: 'config', configMap: { name: `${app}-config` } }, { name: 'data', emptyDir: {} }],
    securityContext: { runAsNonRoot: true, runAsUser: 1000 },
  };
}

/** A Deployment as `kubectl apply` makes it (so it carries a last-applied-configuration annotation too). */
export function deploymentObject(namespace: string, name: string): Record<string, unknown> {
  const body = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name, team: 'bench' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, team: 'bench' } }, spec: realisticPodSpec(name) },
    },
  };
  return { ...body, metadata: { ...body.metadata, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(body) } } };
}

/** A bare Pod no customer owns. */
export function foreignPodObject(name: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: FOREIGN_NAMESPACE, labels: { app: 'foreign' } }, spec: realisticPodSpec(name) };
}
