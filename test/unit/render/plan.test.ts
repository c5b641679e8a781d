import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Application, Condition, License, LicenseSpec, VersionPolicy } from '../../../src/api/index.js';
import { VERSION_POLICY_NAME } from '../../../src/api/index.js';
import { Reason } from '../../../src/licensing/reasons.js';
import { CREDENTIALS_OPT_IN_LABEL, CUSTOMER_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../../../src/vocabulary/labels.js';
import { CUSTOMER_INVALID_SPEC, planCustomer, type CustomerPlan, type CustomerWorld } from '../../../src/render/plan.js';
import { pullSecretName, type CredentialsSecret } from '../../../src/render/pullsecret.js';
import {
  DAY,
  HOUR,
  NOW,
  OPERATOR_NAMESPACE,
  REGISTRY,
  after,
  application,
  basicAuthSecret,
  before,
  customer,
  iso,
  license,
  readDockerConfig,
} from '../fixtures.js';

/**
 * Reasons the planner writes inline (plan.ts exports no constants for them yet): the Customer's
 * Ready condition and the Events it plans. Named once here so the tests below don't repeat them.
 */
const ReadyReason = { Reconciled: 'Reconciled', NamespaceConflict: 'NamespaceConflict', CredentialsUnavailable: 'CredentialsUnavailable' } as const;
const EventReason = {
  Activated: 'Activated',
  Pending: 'Pending',
  Expired: 'Expired',
  Suspended: 'Suspended',
  Invalid: 'Invalid',
  ExpiringSoon: 'ExpiringSoon',
  VersionRevoked: 'VersionRevoked',
} as const;

const API = `${REGISTRY}/analytics/api`;
const WORKER = `${REGISTRY}/analytics/worker`;
const PROXY = `${REGISTRY}/gateway/proxy`;
const DEFAULT_CREDS = { namespace: OPERATOR_NAMESPACE, name: 'acme-registry' };
const ENTERPRISE_CREDS = { namespace: OPERATOR_NAMESPACE, name: 'acme-registry-enterprise' };

const analytics = application('analytics', {
  images: [API, WORKER],
  tagFormat: 'v{version}',
  registry: { server: REGISTRY, credentialsSecret: DEFAULT_CREDS },
  versions: [{ version: '2.4.0' }, { version: '2.4.1' }, { version: '2.5.0' }, { version: '3.0.0' }],
});
const gateway = application('gateway', {
  images: [PROXY],
  registry: { server: REGISTRY, credentialsSecret: DEFAULT_CREDS },
  versions: [{ version: '1.0.0' }, { version: '1.1.0' }],
});
/** An application without registry credentials: gated, but no pull secret to write. */
const tools = application('tools', { images: ['acme/tools'], versions: [{ version: '1.0.0' }] });

const CREDENTIALS = new Map<string, CredentialsSecret>([
  [`${OPERATOR_NAMESPACE}/acme-registry`, basicAuthSecret('acme-puller', 'default-token')],
  [`${OPERATOR_NAMESPACE}/acme-registry-enterprise`, basicAuthSecret('enterprise-puller', 'enterprise-token')],
]);

function world(overrides: Partial<CustomerWorld> = {}): CustomerWorld {
  return {
    now: NOW,
    customerName: 'globex',
    customer: customer('globex', { namespaces: ['globex-prod', 'globex-staging'] }),
    applications: [analytics, gateway, tools],
    licenses: [],
    credentials: CREDENTIALS,
    namespaceOwners: new Map(),
    operatorNamespace: OPERATOR_NAMESPACE,
    ...overrides,
  };
}

const lic = (name: string, spec: Partial<LicenseSpec> = {}, created = '2026-01-01T00:00:00Z') => license(name, spec, { created });

/** What the next reconcile sees after this plan's statuses were written, optionally later. */
function afterWriting(w: CustomerWorld, plan: CustomerPlan, now: Date = w.now): CustomerWorld {
  return {
    ...w,
    now,
    licenses: w.licenses.map((l) => {
      const status = plan.licenseStatuses.get(l.metadata.name);
      return status ? { ...l, status } : l;
    }),
    customer: w.customer && plan.customerStatus ? { ...w.customer, status: plan.customerStatus } : w.customer,
  };
}

/** Plans at each instant in turn, writing statuses in between, as the reconciler would. */
function planOver(w: CustomerWorld, instants: Date[]): CustomerPlan[] {
  const plans: CustomerPlan[] = [];
  let current = w;
  for (const now of instants) {
    current = { ...current, now };
    const plan = planCustomer(current);
    plans.push(plan);
    current = afterWriting(current, plan);
  }
  return plans;
}

const isPolicy = (o: VersionPolicy | V1Secret): o is VersionPolicy => o.kind === 'VersionPolicy';
const isSecret = (o: VersionPolicy | V1Secret): o is V1Secret => o.kind === 'Secret';
const policies = (plan: CustomerPlan) => plan.objects.filter(isPolicy);
const secrets = (plan: CustomerPlan) => plan.objects.filter(isSecret);
const policyIn = (plan: CustomerPlan, namespace: string) => policies(plan).find((p) => p.metadata.namespace === namespace);
const objectKeys = (plan: CustomerPlan) => plan.objects.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`).sort();
const ready = (plan: CustomerPlan) => plan.customerStatus?.conditions?.find((c) => c.type === 'Ready');
const condition = (plan: CustomerPlan, licenseName: string, type: string): Condition | undefined =>
  plan.licenseStatuses.get(licenseName)?.conditions?.find((c) => c.type === type);
const phase = (plan: CustomerPlan, licenseName: string) => plan.licenseStatuses.get(licenseName)?.phase;
const eventReasons = (plan: CustomerPlan, licenseName?: string) =>
  plan.events.filter((e) => licenseName === undefined || e.name === licenseName).map((e) => e.reason);

describe('planCustomer: namespaces', () => {
  it('defaults to one namespace named after the Customer', () => {
    const plan = planCustomer(world({ customer: customer('globex') }));
    expect(plan.namespaces).toEqual(['globex']);
    expect(plan.customerStatus?.namespaces).toEqual(['globex']);
    expect(objectKeys(plan)).toEqual([`VersionPolicy/globex/${VERSION_POLICY_NAME}`]);
  });

  it('uses spec.namespaces', () => {
    const plan = planCustomer(world());
    expect(plan.namespaces).toEqual(['globex-prod', 'globex-staging']);
    expect(policies(plan).map((p) => p.metadata.namespace)).toEqual(['globex-prod', 'globex-staging']);
  });

  it.each([
    ['labelled for this customer', new Map([['globex-prod', 'globex']])],
    ['not labelled at all', new Map([['elsewhere', 'initech']])],
  ])('claims a namespace %s', (_name, owners) => {
    const plan = planCustomer(world({ namespaceOwners: owners }));
    expect(plan.namespaces).toEqual(['globex-prod', 'globex-staging']);
    expect(ready(plan)).toMatchObject({ status: 'True', reason: ReadyReason.Reconciled });
  });

  it("excludes a namespace that belongs to another customer and says so in Ready", () => {
    const plan = planCustomer(world({ namespaceOwners: new Map([['globex-staging', 'initech']]), licenses: [lic('globex-analytics')] }));
    expect(plan.namespaces).toEqual(['globex-prod']);
    expect(plan.customerStatus?.namespaces).toEqual(['globex-prod']);
    expect(plan.objects.every((o) => o.metadata?.namespace === 'globex-prod')).toBe(true);
    expect(ready(plan)).toMatchObject({ status: 'False', reason: ReadyReason.NamespaceConflict, message: expect.stringContaining('globex-staging') });
  });

  it('writes nothing when every namespace belongs to someone else', () => {
    const plan = planCustomer(world({ namespaceOwners: new Map([['globex-prod', 'initech'], ['globex-staging', 'umbrella']]) }));
    expect(plan.namespaces).toEqual([]);
    expect(plan.objects).toEqual([]);
    expect(ready(plan)?.reason).toBe(ReadyReason.NamespaceConflict);
  });

  it('reports a namespace conflict before a credentials problem', () => {
    const plan = planCustomer(
      world({ namespaceOwners: new Map([['globex-staging', 'initech']]), credentials: new Map(), licenses: [lic('globex-analytics')] }),
    );
    expect(ready(plan)?.reason).toBe(ReadyReason.NamespaceConflict);
  });
});

describe('planCustomer: owned objects', () => {
  it('writes one VersionPolicy per namespace and one pull secret per application whose license keeps it', () => {
    const plan = planCustomer(
      world({
        licenses: [
          lic('globex-analytics', { application: 'analytics', versions: ['>=2.4.1 <3.0.0'] }),
          lic('globex-gateway', { application: 'gateway', notBefore: iso(after(DAY)) }),
        ],
      }),
    );
    expect(objectKeys(plan)).toEqual([
      `Secret/globex-prod/${pullSecretName('analytics')}`,
      `Secret/globex-staging/${pullSecretName('analytics')}`,
      `VersionPolicy/globex-prod/${VERSION_POLICY_NAME}`,
      `VersionPolicy/globex-staging/${VERSION_POLICY_NAME}`,
    ]);
    for (const object of plan.objects) {
      expect(object.metadata?.labels).toMatchObject({ [MANAGED_BY_LABEL]: MANAGED_BY, [CUSTOMER_LABEL]: 'globex' });
    }
    const repos = policyIn(plan, 'globex-prod')!.spec.repositories;
    expect(repos[API]).toEqual({ allowedTags: ['v2.4.1', 'v2.5.0'], allowedDigests: [], licenses: ['globex-analytics'] });
    expect(repos[WORKER]?.allowedTags).toEqual(['v2.4.1', 'v2.5.0']);
    // gated even though nothing is granted: the gateway license is Pending, tools has no license
    expect(repos[PROXY]).toEqual({ allowedTags: [], allowedDigests: [], licenses: [] });
    expect(repos['docker.io/acme/tools']).toEqual({ allowedTags: [], allowedDigests: [], licenses: [] });
    expect(policyIn(plan, 'globex-prod')!.spec).toMatchObject({ customer: 'globex', admission: 'Deny' });
  });

  it("carries the customer's admission mode into the VersionPolicy", () => {
    const plan = planCustomer(world({ customer: customer('globex', { enforcement: { admission: 'Warn', onViolation: 'None' } }) }));
    expect(policyIn(plan, 'globex')?.spec.admission).toBe('Warn');
  });

  it('turns the application basic-auth credentials into the pull secret', () => {
    const plan = planCustomer(world({ licenses: [lic('globex-analytics')] }));
    const secret = secrets(plan).find((s) => s.metadata?.namespace === 'globex-prod')!;
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    expect(readDockerConfig(secret.data?.['.dockerconfigjson']).auths[REGISTRY]).toMatchObject({ username: 'acme-puller', password: 'default-token' });
  });

  it.each<[string, Partial<LicenseSpec>, boolean, string[]]>([
    ['Active', {}, true, ['v2.4.0', 'v2.4.1', 'v2.5.0', 'v3.0.0']],
    ['Expired, within grace', { expiresAt: iso(before(HOUR)), gracePeriod: '72h' }, true, []],
    ['Expired, grace over', { expiresAt: iso(before(4 * DAY)), gracePeriod: '72h' }, false, []],
    ['Expired without grace', { expiresAt: iso(before(HOUR)) }, false, []],
    ['Pending', { notBefore: iso(after(HOUR)) }, false, []],
    ['Suspended', { suspended: true }, false, []],
    ['Invalid', { versions: ['1.2.3-01'] }, false, []],
  ])('a license that is %s: pull secret %s, tags %j', (_name, spec, keepsSecret, tags) => {
    const plan = planCustomer(world({ licenses: [lic('globex-analytics', spec)] }));
    expect(secrets(plan).length).toBe(keepsSecret ? 2 : 0);
    expect(policyIn(plan, 'globex-prod')?.spec.repositories[API]?.allowedTags).toEqual(tags);
  });

  it('writes no pull secret for an application without registry credentials, and is Ready', () => {
    const plan = planCustomer(world({ licenses: [lic('globex-tools', { application: 'tools' })] }));
    expect(secrets(plan)).toEqual([]);
    expect(policyIn(plan, 'globex-prod')?.spec.repositories['docker.io/acme/tools']?.allowedTags).toEqual(['1.0.0']);
    expect(ready(plan)).toMatchObject({ status: 'True', reason: ReadyReason.Reconciled });
  });

  it("uses a license's own credentials over the application's", () => {
    const plan = planCustomer(world({ licenses: [lic('globex-analytics', { registryCredentialsSecret: ENTERPRISE_CREDS })] }));
    for (const secret of secrets(plan)) {
      expect(readDockerConfig(secret.data?.['.dockerconfigjson']).auths[REGISTRY]?.username).toBe('enterprise-puller');
    }
  });

  it.each([
    ['older', '2025-06-01T00:00:00Z'],
    ['newer', '2026-02-01T00:00:00Z'],
  ])('prefers, of two licenses for one application, the one with its own credentials (it being %s)', (_name, created) => {
    const plan = planCustomer(
      world({
        customer: customer('globex'),
        licenses: [
          lic('globex-analytics', { versions: ['2.4.0'] }),
          lic('globex-analytics-enterprise', { versions: ['2.5.0'], registryCredentialsSecret: ENTERPRISE_CREDS }, created),
        ],
      }),
    );
    expect(secrets(plan)).toHaveLength(1);
    expect(readDockerConfig(secrets(plan)[0]?.data?.['.dockerconfigjson']).auths[REGISTRY]?.username).toBe('enterprise-puller');
    expect(policyIn(plan, 'globex')?.spec.repositories[API]).toEqual({
      allowedTags: ['v2.4.0', 'v2.5.0'],
      allowedDigests: [],
      licenses: ['globex-analytics', 'globex-analytics-enterprise'],
    });
  });

  it('still writes the pull secret of an expired license in grace next to an active one', () => {
    const plan = planCustomer(
      world({
        customer: customer('globex'),
        licenses: [
          lic('globex-analytics-old', { expiresAt: iso(before(HOUR)), gracePeriod: '1d', registryCredentialsSecret: ENTERPRISE_CREDS }),
          lic('globex-analytics', { versions: ['3.0.0'] }, '2026-02-01T00:00:00Z'),
        ],
      }),
    );
    expect(secrets(plan)).toHaveLength(1);
    expect(policyIn(plan, 'globex')?.spec.repositories[API]?.licenses).toEqual(['globex-analytics']);
  });

  it('writes no pull secret and reports CredentialsUnavailable when the credentials Secret is missing', () => {
    const plan = planCustomer(world({ credentials: new Map(), licenses: [lic('globex-analytics')] }));
    expect(secrets(plan)).toEqual([]);
    expect(policies(plan)).toHaveLength(2);
    const condition = ready(plan)!;
    expect(condition).toMatchObject({ status: 'False', reason: ReadyReason.CredentialsUnavailable });
    expect(condition.message).toContain(`Secret ${OPERATOR_NAMESPACE}/acme-registry`);
    // one message per problem, not one per namespace
    expect(condition.message.split(';')).toHaveLength(1);
  });

  it('reports a license override pointing at a missing Secret', () => {
    const plan = planCustomer(
      world({ licenses: [lic('globex-analytics', { registryCredentialsSecret: { namespace: OPERATOR_NAMESPACE, name: 'gone' } })] }),
    );
    expect(secrets(plan)).toEqual([]);
    expect(ready(plan)).toMatchObject({ reason: ReadyReason.CredentialsUnavailable, message: expect.stringContaining(`${OPERATOR_NAMESPACE}/gone`) });
  });

  it('reports credentials of an unusable type', () => {
    const credentials = new Map<string, CredentialsSecret>([[`${OPERATOR_NAMESPACE}/acme-registry`, { type: 'Opaque', data: {} }]]);
    const plan = planCustomer(world({ credentials, licenses: [lic('globex-analytics')] }));
    expect(secrets(plan)).toEqual([]);
    expect(ready(plan)).toMatchObject({ reason: ReadyReason.CredentialsUnavailable, message: expect.stringContaining('Opaque') });
  });

  it('does not look for credentials of licenses that keep no pull secret', () => {
    const plan = planCustomer(world({ credentials: new Map(), licenses: [lic('globex-analytics', { suspended: true })] }));
    expect(ready(plan)).toMatchObject({ status: 'True', reason: ReadyReason.Reconciled });
  });
});

describe('planCustomer: credentials Secrets outside the operator namespace (confused deputy)', () => {
  const foreign = { namespace: 'kube-system', name: 'bootstrap-token' };
  const foreignCreds = (labels?: Record<string, string>) =>
    new Map([...CREDENTIALS, ['kube-system/bootstrap-token', { ...basicAuthSecret('stolen', 'secret'), labels }]]);

  it('makes a License naming one Invalid with a reason, and copies nothing', () => {
    const plan = planCustomer(world({ credentials: foreignCreds(), licenses: [lic('globex-analytics', { registryCredentialsSecret: foreign })] }));
    expect(phase(plan, 'globex-analytics')).toBe('Invalid');
    expect(condition(plan, 'globex-analytics', 'Valid')).toMatchObject({
      status: 'False',
      reason: Reason.CredentialsNotAllowed,
      message: expect.stringContaining(`only Secrets in the operator's namespace (${OPERATOR_NAMESPACE})`),
    });
    expect(secrets(plan)).toEqual([]);
    expect(JSON.stringify(plan.objects)).not.toContain(Buffer.from('stolen').toString('base64'));
  });

  it('uses one whose owners opted in by label', () => {
    const plan = planCustomer(
      world({ credentials: foreignCreds({ [CREDENTIALS_OPT_IN_LABEL]: 'true' }), licenses: [lic('globex-analytics', { registryCredentialsSecret: foreign })] }),
    );
    expect(phase(plan, 'globex-analytics')).toBe('Active');
    expect(readDockerConfig(secrets(plan)[0]?.data?.['.dockerconfigjson']).auths[REGISTRY]?.username).toBe('stolen');
  });

  it("refuses an Application's foreign credentials: no pull secret, Ready says why", () => {
    const app = application('analytics', { ...analytics.spec, registry: { server: REGISTRY, credentialsSecret: foreign } });
    const plan = planCustomer(world({ applications: [app, gateway, tools], credentials: foreignCreds(), licenses: [lic('globex-analytics')] }));
    expect(phase(plan, 'globex-analytics')).toBe('Active');
    expect(secrets(plan)).toEqual([]);
    expect(ready(plan)).toMatchObject({ status: 'False', reason: ReadyReason.CredentialsUnavailable, message: expect.stringContaining('kube-system/bootstrap-token may not be used') });
  });
});

describe('planCustomer: a Customer that is gone', () => {
  it('writes no objects and makes its licenses Invalid/CustomerNotFound', () => {
    const plan = planCustomer(world({ customer: undefined, licenses: [lic('globex-analytics'), lic('globex-gateway', { application: 'gateway' })] }));
    expect(plan.namespaces).toEqual([]);
    expect(plan.objects).toEqual([]);
    expect(plan.customerStatus).toBeUndefined();
    for (const name of ['globex-analytics', 'globex-gateway']) {
      expect(plan.licenseStatuses.get(name)).toMatchObject({ phase: 'Invalid', grantedVersions: [] });
      expect(condition(plan, name, 'Valid')).toMatchObject({ status: 'False', reason: Reason.CustomerNotFound });
      expect(plan.evaluations.get(name)?.keepsPullSecret).toBe(false);
    }
  });

  it('writes no objects while the Customer is being deleted', () => {
    const deleting = customer('globex');
    deleting.metadata.deletionTimestamp = iso(before(HOUR));
    const plan = planCustomer(world({ customer: deleting, licenses: [lic('globex-analytics')] }));
    expect(plan.namespaces).toEqual([]);
    expect(plan.objects).toEqual([]);
    expect(plan.customerStatus).toBeUndefined();
  });
});

describe('planCustomer: a Customer whose spec no longer parses', () => {
  // Stored under an older schema: the CRD no longer stops it, the zod schema does.
  const broken = () => ({ ...customer('globex'), spec: { namespaces: 'globex-prod', enforcement: { admission: 'Maybe' } } }) as unknown as ReturnType<typeof customer>;

  it('keeps the namespaces it holds gated with nothing granted (fails closed), and says why', () => {
    const plan = planCustomer(
      world({ customer: broken(), licenses: [lic('globex-analytics')], namespaceOwners: new Map([['globex-prod', 'globex'], ['other', 'initech']]) }),
    );
    expect(plan.namespaces).toEqual(['globex-prod']);
    expect(plan.admission).toBe('Deny');
    expect(objectKeys(plan)).toEqual([`VersionPolicy/globex-prod/${VERSION_POLICY_NAME}`]);
    for (const grant of Object.values(policies(plan)[0]!.spec.repositories)) expect(grant.allowedTags).toEqual([]);
    expect(plan.sweepPolicies).toEqual([]);
    expect(ready(plan)).toMatchObject({ status: 'False', reason: CUSTOMER_INVALID_SPEC, message: expect.stringContaining('stay gated with nothing granted') });
  });

  it('claims no namespace from the unreadable spec', () => {
    const plan = planCustomer(world({ customer: broken(), namespaceOwners: new Map() }));
    expect(plan.namespaces).toEqual([]);
    expect(plan.objects).toEqual([]);
  });
});

describe('planCustomer: trials', () => {
  const trial = (name: string, spec: Partial<LicenseSpec> = {}, created?: string) => lic(name, { type: 'Trial', ...spec }, created);

  it('starts a trial at its first activation and records it in the Customer status', () => {
    const plan = planCustomer(world({ licenses: [trial('globex-analytics-trial')] }));
    expect(plan.licenseStatuses.get('globex-analytics-trial')).toMatchObject({
      phase: 'Active',
      trialStartedAt: iso(NOW),
      effectiveExpiresAt: iso(after(14 * DAY)),
    });
    expect(plan.customerStatus?.trials).toEqual([{ application: 'analytics', license: 'globex-analytics-trial', startedAt: iso(NOW) }]);
  });

  it('keeps counting from the recorded start', () => {
    const started = license('globex-analytics-trial', { type: 'Trial' }, { status: { trialStartedAt: iso(before(10 * DAY)) } });
    const plan = planCustomer(world({ licenses: [started] }));
    expect(plan.licenseStatuses.get('globex-analytics-trial')).toMatchObject({ phase: 'Active', trialStartedAt: iso(before(10 * DAY)), effectiveExpiresAt: iso(after(4 * DAY)) });
  });

  it('makes a second trial of the same application Invalid/TrialAlreadyUsed', () => {
    const plan = planCustomer(
      world({ licenses: [trial('globex-analytics-trial-2', {}, '2026-02-01T00:00:00Z'), trial('globex-analytics-trial', {}, '2026-01-01T00:00:00Z')] }),
    );
    expect(phase(plan, 'globex-analytics-trial')).toBe('Active');
    expect(phase(plan, 'globex-analytics-trial-2')).toBe('Invalid');
    expect(condition(plan, 'globex-analytics-trial-2', 'Valid')).toMatchObject({
      reason: Reason.TrialAlreadyUsed,
      message: expect.stringContaining('globex-analytics-trial'),
    });
    expect(plan.customerStatus?.trials?.map((t) => t.license)).toEqual(['globex-analytics-trial']);
  });

  it('remembers a used trial after its License is deleted', () => {
    const used = customer('globex', {}, { trials: [{ application: 'analytics', license: 'deleted-trial', startedAt: iso(before(100 * DAY)) }] });
    const plan = planCustomer(world({ customer: used, licenses: [trial('globex-analytics-again')] }));
    expect(phase(plan, 'globex-analytics-again')).toBe('Invalid');
    expect(condition(plan, 'globex-analytics-again', 'Valid')).toMatchObject({ reason: Reason.TrialAlreadyUsed, message: expect.stringContaining('deleted-trial') });
    expect(plan.customerStatus?.trials).toEqual(used.status?.trials);
  });

  it('gives one trial per application, not per customer', () => {
    const plan = planCustomer(world({ licenses: [trial('t-analytics'), trial('t-gateway', { application: 'gateway' })] }));
    expect(phase(plan, 't-analytics')).toBe('Active');
    expect(phase(plan, 't-gateway')).toBe('Active');
    expect(plan.customerStatus?.trials?.map((t) => t.application)).toEqual(['analytics', 'gateway']);
  });

  it('does not record a trial that has not started, yet it already holds the one trial', () => {
    const plan = planCustomer(
      world({ licenses: [trial('later', { notBefore: iso(after(DAY)) }), trial('second', {}, '2026-02-01T00:00:00Z')] }),
    );
    expect(phase(plan, 'later')).toBe('Pending');
    expect(plan.licenseStatuses.get('later')?.trialStartedAt).toBeUndefined();
    expect(plan.customerStatus?.trials).toEqual([]);
    expect(phase(plan, 'second')).toBe('Invalid');
  });

  it('gives the trial to the oldest Trial License, whatever the listing order', () => {
    const older = trial('zz-older', {}, '2025-12-31T23:59:59Z');
    const newer = trial('aa-newer', {}, '2026-01-05T00:00:00Z');
    for (const licenses of [[older, newer], [newer, older]]) {
      const plan = planCustomer(world({ licenses }));
      expect([phase(plan, 'zz-older'), phase(plan, 'aa-newer')]).toEqual(['Active', 'Invalid']);
    }
  });

  it('breaks a creation-time tie by name', () => {
    const plan = planCustomer(world({ licenses: [trial('b-trial'), trial('a-trial')] }));
    expect([phase(plan, 'a-trial'), phase(plan, 'b-trial')]).toEqual(['Active', 'Invalid']);
  });

  it('does not let a Commercial license of the same application use up the trial', () => {
    const plan = planCustomer(world({ licenses: [lic('commercial'), trial('t', {}, '2026-02-01T00:00:00Z')] }));
    expect(phase(plan, 't')).toBe('Active');
  });

  it('ends a trial after trialDays, once, with an Expired event', () => {
    const plans = planOver(world({ licenses: [trial('t', { trialDays: 3 })] }), [NOW, after(3 * DAY - 1), after(3 * DAY), after(4 * DAY)]);
    expect(plans.map((p) => phase(p, 't'))).toEqual(['Active', 'Active', 'Expired', 'Expired']);
    expect(condition(plans[2]!, 't', 'Active')?.reason).toBe(Reason.TrialEnded);
    // Only thresholds shorter than the trial warn: a 3-day trial is not "expiring within 7 days" on day one.
    expect(plans.map((p) => eventReasons(p, 't'))).toEqual([
      [EventReason.Activated],
      [EventReason.ExpiringSoon],
      [EventReason.Expired],
      [],
    ]);
    expect(plans.at(-1)?.customerStatus?.trials).toEqual([{ application: 'analytics', license: 't', startedAt: iso(NOW) }]);
  });
});

describe('planCustomer: add-ons', () => {
  it('settles a base → add-on chain: base Active makes the add-on Active, whatever the listing order', () => {
    const licenses = [
      lic('addon-2', { application: 'gateway', requires: ['addon-1'] }, '2025-01-01T00:00:00Z'),
      lic('addon-1', { application: 'tools', requires: ['base'] }, '2025-06-01T00:00:00Z'),
      lic('base', {}, '2026-01-01T00:00:00Z'),
    ];
    for (const order of [licenses, [...licenses].reverse()]) {
      const plan = planCustomer(world({ licenses: order }));
      expect(['base', 'addon-1', 'addon-2'].map((n) => phase(plan, n))).toEqual(['Active', 'Active', 'Active']);
      expect(plan.customerStatus?.activeLicenses).toBe(3);
      expect(policyIn(plan, 'globex-prod')?.spec.repositories[PROXY]?.licenses).toEqual(['addon-2']);
    }
  });

  it('holds every add-on of a suspended base Pending/RequiredLicenseInactive, granting nothing', () => {
    const plan = planCustomer(
      world({
        licenses: [
          lic('base', { suspended: true }),
          lic('addon-1', { application: 'gateway', requires: ['base'] }),
          lic('addon-2', { application: 'tools', requires: ['addon-1'] }),
        ],
      }),
    );
    expect(['base', 'addon-1', 'addon-2'].map((n) => phase(plan, n))).toEqual(['Suspended', 'Pending', 'Pending']);
    expect(condition(plan, 'addon-1', 'Active')?.reason).toBe(Reason.RequiredLicenseInactive);
    expect(condition(plan, 'addon-2', 'Active')?.reason).toBe(Reason.RequiredLicenseInactive);
    expect(secrets(plan)).toEqual([]);
    expect(policyIn(plan, 'globex-prod')?.spec.repositories[PROXY]?.allowedTags).toEqual([]);
  });

  it("makes an add-on whose base is not among the customer's licenses Invalid/RequiredLicenseNotFound", () => {
    const plan = planCustomer(world({ licenses: [lic('addon', { application: 'gateway', requires: ['someone-elses-base'] })] }));
    expect(phase(plan, 'addon')).toBe('Invalid');
    expect(condition(plan, 'addon', 'Valid')?.reason).toBe(Reason.RequiredLicenseNotFound);
  });

  it('leaves a cycle of add-ons Pending without looping forever', () => {
    const plan = planCustomer(
      world({ licenses: [lic('a', { requires: ['b'] }), lic('b', { application: 'gateway', requires: ['a'] })] }),
    );
    expect([phase(plan, 'a'), phase(plan, 'b')]).toEqual(['Pending', 'Pending']);
  });

  it('activates an add-on when its base becomes active by the clock', () => {
    const w = world({
      licenses: [lic('base', { notBefore: iso(after(DAY)) }), lic('addon', { application: 'gateway', requires: ['base'] })],
    });
    const [first, second] = planOver(w, [NOW, after(DAY)]);
    expect([phase(first!, 'base'), phase(first!, 'addon')]).toEqual(['Pending', 'Pending']);
    expect(first!.nextTransitionAt).toEqual(after(DAY));
    expect([phase(second!, 'base'), phase(second!, 'addon')]).toEqual(['Active', 'Active']);
    expect(eventReasons(second!, 'addon')).toEqual([EventReason.Activated]);
  });
});

describe('planCustomer: a trial add-on', () => {
  it('starts its trial clock when its base license becomes active, not before', () => {
    const w = world({
      licenses: [
        lic('base', { notBefore: iso(after(2 * DAY)) }),
        lic('addon-trial', { application: 'gateway', type: 'Trial', trialDays: 7, requires: ['base'] }),
      ],
    });
    const [waiting, started] = planOver(w, [NOW, after(2 * DAY)]);
    expect(waiting!.licenseStatuses.get('addon-trial')).toMatchObject({ phase: 'Pending' });
    expect(waiting!.licenseStatuses.get('addon-trial')?.trialStartedAt).toBeUndefined();
    expect(waiting!.customerStatus?.trials).toEqual([]);
    expect(started!.licenseStatuses.get('addon-trial')).toMatchObject({
      phase: 'Active',
      trialStartedAt: iso(after(2 * DAY)),
      effectiveExpiresAt: iso(after(9 * DAY)),
    });
    expect(started!.customerStatus?.trials).toEqual([{ application: 'gateway', license: 'addon-trial', startedAt: iso(after(2 * DAY)) }]);
  });
});

describe('planCustomer: events', () => {
  it('records Activated on the first evaluation of an active license', () => {
    const plan = planCustomer(world({ licenses: [lic('globex-analytics')] }));
    expect(plan.events).toEqual([{ kind: 'License', name: 'globex-analytics', type: 'Normal', reason: EventReason.Activated, message: 'active, perpetual' }]);
  });

  it.each<[string, Partial<LicenseSpec>, string, 'Normal' | 'Warning']>([
    ['Pending', { notBefore: iso(after(DAY)) }, EventReason.Pending, 'Normal'],
    ['Suspended', { suspended: true }, EventReason.Suspended, 'Warning'],
    ['Invalid', { application: 'no-such-app' }, EventReason.Invalid, 'Warning'],
    ['Expired', { expiresAt: iso(before(DAY)) }, EventReason.Expired, 'Warning'],
  ])('records %s on the first evaluation of such a license', (_name, spec, reason, type) => {
    const plan = planCustomer(world({ licenses: [lic('l', spec)] }));
    expect(plan.events).toEqual([expect.objectContaining({ kind: 'License', name: 'l', reason, type })]);
  });

  it('records nothing, and changes no status, once the statuses are written and nothing changed', () => {
    const w = world({
      licenses: [
        lic('globex-analytics', { expiresAt: iso(after(10 * DAY)) }),
        lic('globex-gateway', { application: 'gateway', notBefore: iso(after(DAY)) }),
        lic('globex-tools', { application: 'tools', suspended: true }),
      ],
    });
    const [first, second, later] = planOver(w, [NOW, NOW, after(HOUR)]);
    expect(first!.events.length).toBeGreaterThan(0);
    expect(second!.events).toEqual([]);
    expect(later!.events).toEqual([]);
    expect(second!.licenseStatuses).toEqual(first!.licenseStatuses);
    expect(later!.licenseStatuses).toEqual(first!.licenseStatuses);
    expect(later!.customerStatus).toEqual(first!.customerStatus);
    expect(later!.objects).toEqual(first!.objects);
  });

  it('records Expired when an active license expires, and once more when its grace period ends', () => {
    const w = world({ licenses: [lic('l', { expiresAt: iso(after(HOUR)), gracePeriod: '1d' })] });
    const plans = planOver(w, [NOW, after(HOUR - 1), after(HOUR), after(2 * HOUR), after(25 * HOUR), after(26 * HOUR)]);
    expect(plans.map((p) => eventReasons(p, 'l'))).toEqual([
      [EventReason.Activated, EventReason.ExpiringSoon],
      [],
      [EventReason.Expired],
      [],
      [EventReason.Expired],
      [],
    ]);
    expect(plans.map((p) => condition(p, 'l', 'Active')?.reason)).toEqual([
      Reason.Active,
      Reason.Active,
      Reason.InGracePeriod,
      Reason.InGracePeriod,
      Reason.Expired,
      Reason.Expired,
    ]);
    expect(plans.map((p) => secrets(p).length)).toEqual([2, 2, 2, 2, 0, 0]);
    expect(plans[2]!.events[0]).toMatchObject({ type: 'Warning', message: expect.stringContaining('running workloads are left alone') });
  });

  it('records ExpiringSoon once per threshold crossed', () => {
    const w = world({ licenses: [lic('l', { expiresAt: iso(after(31 * DAY)) })] });
    const instants = [NOW, after(DAY), after(2 * DAY), after(23 * DAY), after(24 * DAY), after(25 * DAY), after(30 * DAY), after(30 * DAY + HOUR)];
    const plans = planOver(w, instants);
    expect(plans.map((p) => eventReasons(p, 'l'))).toEqual([
      [EventReason.Activated],
      [EventReason.ExpiringSoon],
      [],
      [],
      [EventReason.ExpiringSoon],
      [],
      [EventReason.ExpiringSoon],
      [],
    ]);
    expect(plans.flatMap((p) => p.events.filter((e) => e.reason === EventReason.ExpiringSoon).map((e) => e.message))).toEqual([
      `expires within 30 day(s), at ${iso(after(31 * DAY))}`,
      `expires within 7 day(s), at ${iso(after(31 * DAY))}`,
      `expires within 1 day(s), at ${iso(after(31 * DAY))}`,
    ]);
    expect(plans.map((p) => condition(p, 'l', 'ExpiringSoon')?.reason)).toEqual([
      Reason.NotExpiringSoon,
      Reason.ExpiresWithin30Days,
      Reason.ExpiresWithin30Days,
      Reason.ExpiresWithin30Days,
      Reason.ExpiresWithin7Days,
      Reason.ExpiresWithin7Days,
      Reason.ExpiresWithin1Day,
      Reason.ExpiresWithin1Day,
    ]);
  });

  it('records ExpiringSoon again when a renewal is shortened back into a threshold', () => {
    const w = world({ licenses: [lic('l', { expiresAt: iso(after(5 * DAY)) })] });
    const first = planCustomer(w);
    expect(eventReasons(first, 'l')).toEqual([EventReason.Activated, EventReason.ExpiringSoon]);
    const renewed = afterWriting(w, first);
    renewed.licenses = renewed.licenses.map((l) => ({ ...l, spec: { ...l.spec, expiresAt: iso(after(365 * DAY)) } }));
    const second = planCustomer(renewed);
    expect(eventReasons(second, 'l')).toEqual([]);
    expect(condition(second, 'l', 'ExpiringSoon')).toMatchObject({ status: 'False', reason: Reason.NotExpiringSoon });
    const shortened = afterWriting(renewed, second);
    shortened.licenses = shortened.licenses.map((l) => ({ ...l, spec: { ...l.spec, expiresAt: iso(after(5 * DAY)) } }));
    expect(eventReasons(planCustomer(shortened), 'l')).toEqual([EventReason.ExpiringSoon]);
  });

  it('records VersionRevoked when a revoked version disappears from the grants', () => {
    const w = world({ licenses: [lic('l', { versions: ['^2.4.0'] })] });
    const first = planCustomer(w);
    expect(first.licenseStatuses.get('l')?.grantedVersions).toEqual(['2.4.0', '2.4.1', '2.5.0']);
    const revoked = afterWriting(w, first);
    revoked.licenses = revoked.licenses.map((l) => ({ ...l, spec: { ...l.spec, revokedVersions: ['2.4.1', '3.0.0'] } }));
    const second = planCustomer(revoked);
    expect(second.licenseStatuses.get('l')?.grantedVersions).toEqual(['2.4.0', '2.5.0']);
    expect(second.events).toEqual([{ kind: 'License', name: 'l', type: 'Warning', reason: EventReason.VersionRevoked, message: 'revoked: 2.4.1' }]);
    expect(policyIn(second, 'globex-prod')?.spec.repositories[API]?.allowedTags).toEqual(['v2.4.0', 'v2.5.0']);
    expect(planCustomer(afterWriting(revoked, second)).events).toEqual([]);
  });

  it('records no VersionRevoked when a version leaves spec.versions without being revoked', () => {
    const w = world({ licenses: [lic('l', { versions: ['^2.4.0'] })] });
    const first = planCustomer(w);
    const narrowed = afterWriting(w, first);
    narrowed.licenses = narrowed.licenses.map((l) => ({ ...l, spec: { ...l.spec, versions: ['2.4.0'] } }));
    expect(planCustomer(narrowed).events).toEqual([]);
  });

  it('records Suspended when an active license is suspended, and Activated when it resumes', () => {
    const w = world({ licenses: [lic('l')] });
    const first = planCustomer(w);
    const suspendedWorld = afterWriting(w, first);
    suspendedWorld.licenses = suspendedWorld.licenses.map((l) => ({ ...l, spec: { ...l.spec, suspended: true } }));
    const suspended = planCustomer(suspendedWorld);
    expect(eventReasons(suspended)).toEqual([EventReason.Suspended]);
    expect(secrets(suspended)).toEqual([]);
    const resumedWorld = afterWriting(suspendedWorld, suspended);
    resumedWorld.licenses = resumedWorld.licenses.map((l) => ({ ...l, spec: { ...l.spec, suspended: false } }));
    expect(eventReasons(planCustomer(resumedWorld))).toEqual([EventReason.Activated]);
  });
});

describe('planCustomer: statuses', () => {
  it('writes the License status: generation, phase, grants, expiry and the three conditions', () => {
    const l = license('l', { versions: ['2.4.x'], expiresAt: iso(after(20 * DAY)) }, { generation: 4, status: { usage: { replicas: 3 } } });
    const plan = planCustomer(world({ licenses: [l] }));
    expect(plan.licenseStatuses.get('l')).toEqual({
      observedGeneration: 4,
      phase: 'Active',
      versions: '2.4.x',
      grantedVersions: ['2.4.0', '2.4.1'],
      effectiveExpiresAt: iso(after(20 * DAY)),
      usage: { replicas: 3 },
      conditions: [
        { type: 'Valid', status: 'True', reason: Reason.Valid, message: expect.any(String), lastTransitionTime: iso(NOW), observedGeneration: 4 },
        { type: 'Active', status: 'True', reason: Reason.Active, message: `active until ${iso(after(20 * DAY))}`, lastTransitionTime: iso(NOW), observedGeneration: 4 },
        {
          type: 'ExpiringSoon',
          status: 'True',
          reason: Reason.ExpiresWithin30Days,
          message: `expires at ${iso(after(20 * DAY))}`,
          lastTransitionTime: iso(NOW),
          observedGeneration: 4,
        },
      ],
    });
  });

  it('keeps lastTransitionTime of conditions whose status did not flip, and moves the others', () => {
    const w = world({ licenses: [lic('l', { expiresAt: iso(after(HOUR)), gracePeriod: '1d' })] });
    const [first, second] = planOver(w, [NOW, after(2 * HOUR)]);
    expect(condition(second!, 'l', 'Valid')?.lastTransitionTime).toBe(iso(NOW));
    expect(condition(second!, 'l', 'Active')).toMatchObject({ status: 'False', reason: Reason.InGracePeriod, lastTransitionTime: iso(after(2 * HOUR)) });
    expect(condition(second!, 'l', 'ExpiringSoon')).toMatchObject({ status: 'False', lastTransitionTime: iso(after(2 * HOUR)) });
    expect(condition(first!, 'l', 'ExpiringSoon')).toMatchObject({ status: 'True', reason: Reason.ExpiresWithin1Day });
  });

  it('writes the Customer status: generation, namespaces, active licenses, Ready', () => {
    const c = customer('globex', { namespaces: ['globex-prod'] });
    c.metadata.generation = 7;
    const plan = planCustomer(
      world({ customer: c, licenses: [lic('a'), lic('b', { application: 'gateway' }), lic('c', { application: 'tools', suspended: true })] }),
    );
    expect(plan.customerStatus).toEqual({
      observedGeneration: 7,
      namespaces: ['globex-prod'],
      activeLicenses: 2,
      trials: [],
      conditions: [
        { type: 'Ready', status: 'True', reason: ReadyReason.Reconciled, message: '1 namespace(s) in line with 3 license(s)', lastTransitionTime: iso(NOW), observedGeneration: 7 },
      ],
    });
  });

  it('takes the earliest transition of any license as the next requeue', () => {
    const plan = planCustomer(
      world({
        licenses: [
          lic('a', { expiresAt: iso(after(100 * DAY)) }),
          lic('b', { application: 'gateway', notBefore: iso(after(5 * DAY)) }),
          lic('c', { application: 'tools', expiresAt: iso(after(10 * DAY)) }),
        ],
      }),
    );
    expect(plan.nextTransitionAt).toEqual(after(3 * DAY));
    expect(planCustomer(world({ licenses: [lic('perpetual')] })).nextTransitionAt).toBeUndefined();
  });

  it('exposes every evaluation', () => {
    const plan = planCustomer(world({ licenses: [lic('a'), lic('b', { suspended: true })] }));
    expect([...plan.evaluations.keys()].sort()).toEqual(['a', 'b']);
    expect(plan.evaluations.get('a')?.keepsPullSecret).toBe(true);
  });
});

describe('planCustomer: purity', () => {
  const licenses: License[] = [
    lic('globex-analytics', { versions: ['^2.4.0'], expiresAt: iso(after(20 * DAY)) }, '2026-01-02T00:00:00Z'),
    lic('globex-gateway', { application: 'gateway', registryCredentialsSecret: ENTERPRISE_CREDS }, '2026-01-01T00:00:00Z'),
    lic('globex-trial', { application: 'tools', type: 'Trial' }, '2026-01-03T00:00:00Z'),
  ];
  const apps: Application[] = [analytics, gateway, tools];

  it('plans equal worlds equally, whatever the order of licenses and applications', () => {
    const a = planCustomer(world({ licenses, applications: apps }));
    const b = planCustomer(world({ licenses: [...licenses].reverse(), applications: [...apps].reverse() }));
    expect(JSON.stringify(b.objects)).toBe(JSON.stringify(a.objects));
    expect(b.customerStatus).toEqual(a.customerStatus);
    expect(b.licenseStatuses).toEqual(a.licenseStatuses);
    expect(b.events).toEqual(a.events);
  });

  it('does not modify the world', () => {
    const w = world({ licenses, applications: apps });
    const snapshot = structuredClone({ licenses: w.licenses, customer: w.customer, applications: w.applications });
    planCustomer(w);
    expect({ licenses: w.licenses, customer: w.customer, applications: w.applications }).toEqual(snapshot);
  });
});
