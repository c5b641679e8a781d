/**
 * Everything one Customer should look like at `now`: its namespaces, the objects in them,
 * and the status of the Customer and its Licenses. Pure: the reconciler gathers the world,
 * calls this, and writes the difference.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type {
  Application,
  Customer,
  CustomerStatus,
  License,
  LicensePhase,
  LicenseStatus,
  SecretReference,
  VersionPolicy,
  AdmissionMode,
} from '../api/index.js';
import { customerSpec } from '../api/index.js';
import { evaluateLicense, type LicenseEvaluation } from '../licensing/evaluate.js';
import { Reason } from '../licensing/reasons.js';
import { judgeSignatures, type SigningSettings } from '../licensing/signed-licenses.js';
import { mergeConditions, rfc3339, type DesiredCondition } from './conditions.js';
import { renderGatePullSecret } from './gatecredentials.js';
import { renderPullSecret, type CredentialsSecret } from './pullsecret.js';
import { renderVersionPolicy, type Grant } from './versionpolicy.js';

/** What the planner sees of the cluster. */
export interface CustomerWorld {
  now: Date;
  customerName: string;
  /** The Customer, or undefined once it is gone (or while it is being deleted). */
  customer: Customer | undefined;
  applications: Application[];
  /** Licenses whose spec.customer names this customer. */
  licenses: License[];
  /** Credentials Secrets by "namespace/name"; a missing key means the Secret does not exist. */
  credentials: ReadonlyMap<string, CredentialsSecret>;
  /** The customer label found on each labelled namespace. */
  namespaceOwners: ReadonlyMap<string, string>;
  /** Gate credentials by license name, for applications served through the registry gate. */
  gateCredentials?: ReadonlyMap<string, CredentialsSecret>;
  /** Vendor keys, whether signatures are required, this cluster's id. Absent: no key is trusted. */
  signing?: SigningSettings;
  /** Highest signed-license sequence accepted so far, by application (the customer's Ledgers). */
  acceptedSequences?: ReadonlyMap<string, number>;
}

/** An Event to record against a License or Customer. */
export interface PlannedEvent {
  kind: 'License' | 'Customer';
  name: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** An object the operator owns in a customer namespace. */
export type OwnedObject = VersionPolicy | V1Secret;

/** The plan for one customer. */
export interface CustomerPlan {
  /** Namespaces to create (if missing) and label for this customer. */
  namespaces: string[];
  /** The customer's admission mode, labelled on its namespaces to select the admission binding. */
  admission: AdmissionMode;
  /** Desired owned objects across those namespaces; every other owned object of the customer goes. */
  objects: OwnedObject[];
  licenseStatuses: Map<string, LicenseStatus>;
  customerStatus: CustomerStatus | undefined;
  events: PlannedEvent[];
  /** The next instant any of this customer's licenses changes by the clock alone. */
  nextTransitionAt: Date | undefined;
  /**
   * What running workloads may keep running in each namespace: the grants plus what licenses
   * still in their grace period resolve to. The enforcement sweep judges workloads by it.
   */
  sweepPolicies: VersionPolicy[];
  /** Per-license evaluations, for metrics and the enforcement sweep. */
  evaluations: Map<string, LicenseEvaluation>;
  /** Signed sequences to record in the Ledger, by application: only ones higher than accepted so far. */
  signedSequences: Map<string, number>;
}

/** Plans one customer. Never throws on bad input: problems become conditions. */
export function planCustomer(world: CustomerWorld): CustomerPlan {
  const { now, customer } = world;
  const appsByName = new Map(world.applications.map((a) => [a.metadata.name, a]));
  const licenses = [...world.licenses].sort(byCreation);
  const trialOwners = trialOwnership(customer, licenses);
  const signatures = judgeSignatures(licenses, world.signing, world.acceptedSequences ?? new Map());

  const evaluations = evaluateAll(licenses, (license, requiredPhases) =>
    evaluateLicense(license, {
      now,
      application: appsByName.get(license.spec.application),
      customerExists: customer !== undefined,
      trialStartedAt: license.status?.trialStartedAt ? new Date(license.status.trialStartedAt) : undefined,
      earlierTrial: earlierTrial(license, trialOwners),
      requiredPhases,
      signature: signatures.verdicts.get(license.metadata.name),
    }),
  );

  const events: PlannedEvent[] = [];
  const licenseStatuses = new Map<string, LicenseStatus>();
  for (const license of licenses) {
    const evaluation = evaluations.get(license.metadata.name)!;
    licenseStatuses.set(license.metadata.name, licenseStatus(license, evaluation, now));
    events.push(...licenseEvents(license, evaluation));
  }
  const nextTransitionAt = [...evaluations.values()]
    .map((e) => e.nextTransitionAt?.getTime())
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b)[0];

  const base = { licenseStatuses, events, evaluations, signedSequences: signatures.toRecord, nextTransitionAt: nextTransitionAt === undefined ? undefined : new Date(nextTransitionAt) };
  if (!customer || customer.metadata.deletionTimestamp) {
    return { ...base, namespaces: [], admission: 'Deny', objects: [], sweepPolicies: [], customerStatus: undefined };
  }

  const parsedSpec = customerSpec.safeParse(customer.spec);
  if (!parsedSpec.success) {
    // The CRD schema normally stops this; a Customer stored under an older schema can still get here.
    const issue = parsedSpec.error.issues[0]!;
    const invalid: DesiredCondition = { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: `spec.${issue.path.join('.')}: ${issue.message}` };
    return {
      ...base,
      namespaces: [],
      admission: 'Deny',
      objects: [],
      sweepPolicies: [],
      customerStatus: { ...customer.status, conditions: mergeConditions(customer.status?.conditions, [invalid], now, customer.metadata.generation) },
    };
  }
  const spec = parsedSpec.data;
  // An on-premises customer's licenses are enforced in its own cluster: nothing is written here.
  const wanted = spec.onPremises ? [] : (spec.namespaces ?? [customer.metadata.name]);
  const conflicts = wanted.filter((ns) => {
    const owner = world.namespaceOwners.get(ns);
    return owner !== undefined && owner !== customer.metadata.name;
  });
  const namespaces = wanted.filter((ns) => !conflicts.includes(ns));

  const grants: Grant[] = licenses
    .map((l) => ({ license: l.metadata.name, application: l.spec.application, versions: evaluations.get(l.metadata.name)!.grantedVersions }))
    .filter((g) => g.versions.length > 0);
  const sweepGrants: Grant[] = licenses
    .map((l) => {
      const e = evaluations.get(l.metadata.name)!;
      return { license: l.metadata.name, application: l.spec.application, versions: e.phase === 'Active' || e.keepsPullSecret ? e.resolvedVersions : [] };
    })
    .filter((g) => g.versions.length > 0);
  const sweepPolicies = namespaces.map((namespace) =>
    renderVersionPolicy({ namespace, customer: customer.metadata.name, admission: spec.enforcement.admission, applications: world.applications, grants: sweepGrants }),
  );
  const objects: OwnedObject[] = [];
  const credentialProblems: string[] = [];
  for (const namespace of namespaces) {
    objects.push(
      renderVersionPolicy({ namespace, customer: customer.metadata.name, admission: spec.enforcement.admission, applications: world.applications, grants }),
    );
    for (const [application, license] of pullSecretLicenses(licenses, evaluations)) {
      const app = appsByName.get(application)!;
      // Behind a registry gate, the pull secret carries the license's gate credentials instead.
      const gated = renderGatePullSecret({ namespace, customer: customer.metadata.name, application: app, license: license.metadata.name, gateCredentials: world.gateCredentials });
      if (gated) {
        if (gated.ok) objects.push(gated.secret);
        else credentialProblems.push(gated.message);
        continue;
      }
      const ref = license.spec.registryCredentialsSecret ?? app.spec.registry?.credentialsSecret;
      if (!ref) continue;
      const source = `Secret ${refKey(ref)}`;
      const credentials = world.credentials.get(refKey(ref));
      if (!credentials) {
        credentialProblems.push(`${source} (for ${application}) does not exist`);
        continue;
      }
      const result = renderPullSecret({ namespace, customer: customer.metadata.name, application, server: app.spec.registry?.server, credentials, source });
      if (result.ok) objects.push(result.secret);
      else credentialProblems.push(result.message);
    }
  }

  const ready: DesiredCondition =
    conflicts.length > 0
      ? { type: 'Ready', status: 'False', reason: 'NamespaceConflict', message: `namespaces already belong to another customer: ${conflicts.join(', ')}` }
      : credentialProblems.length > 0
        ? { type: 'Ready', status: 'False', reason: 'CredentialsUnavailable', message: [...new Set(credentialProblems)].join('; ') }
        : spec.onPremises
          ? { type: 'Ready', status: 'True', reason: 'OnPremises', message: `on premises: ${licenses.length} license(s) kept here, enforced in the customer's own cluster` }
          : { type: 'Ready', status: 'True', reason: 'Reconciled', message: `${namespaces.length} namespace(s) in line with ${licenses.length} license(s)` };
  const customerStatus: CustomerStatus = {
    ...(customer.metadata.generation === undefined ? {} : { observedGeneration: customer.metadata.generation }),
    namespaces,
    activeLicenses: [...evaluations.values()].filter((e) => e.phase === 'Active').length,
    trials: trialRecords(customer, licenses, evaluations),
    conditions: mergeConditions(customer.status?.conditions, [ready], now, customer.metadata.generation),
  };
  return { ...base, namespaces, admission: spec.enforcement.admission, objects, sweepPolicies, customerStatus };
}

const refKey = (ref: SecretReference) => `${ref.namespace}/${ref.name}`;

function byCreation(a: License, b: License): number {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  return ta < tb ? -1 : ta > tb ? 1 : a.metadata.name < b.metadata.name ? -1 : 1;
}

/**
 * Add-ons depend on their base licenses' phases, so evaluation repeats until the phases
 * settle (a chain of N add-ons settles in N rounds; a cycle never gets Active).
 */
function evaluateAll(
  licenses: License[],
  evaluate: (license: License, requiredPhases: Record<string, LicensePhase | undefined>) => LicenseEvaluation,
): Map<string, LicenseEvaluation> {
  let phases = new Map<string, LicensePhase>(licenses.map((l) => [l.metadata.name, 'Pending']));
  let result = new Map<string, LicenseEvaluation>();
  for (let round = 0; round <= licenses.length; round++) {
    result = new Map(
      licenses.map((l) => {
        const required = Object.fromEntries((l.spec.requires ?? []).map((name) => [name, phases.get(name)]));
        return [l.metadata.name, evaluate(l, required)];
      }),
    );
    const next = new Map([...result].map(([name, e]) => [name, e.phase]));
    if ([...next].every(([name, phase]) => phases.get(name) === phase)) break;
    phases = next;
  }
  return result;
}

/** The license that owns each application's one trial: the recorded one, else the oldest. */
function trialOwnership(customer: Customer | undefined, licenses: License[]): Map<string, string> {
  const owners = new Map<string, string>();
  for (const record of customer?.status?.trials ?? []) owners.set(record.application, record.license);
  for (const license of licenses) {
    if (license.spec.type === 'Trial' && !owners.has(license.spec.application)) {
      owners.set(license.spec.application, license.metadata.name);
    }
  }
  return owners;
}

function earlierTrial(license: License, owners: Map<string, string>): string | undefined {
  if (license.spec.type !== 'Trial') return undefined;
  const owner = owners.get(license.spec.application);
  return owner !== undefined && owner !== license.metadata.name ? owner : undefined;
}

function trialRecords(customer: Customer, licenses: License[], evaluations: Map<string, LicenseEvaluation>) {
  const records = new Map((customer.status?.trials ?? []).map((t) => [t.application, t]));
  for (const license of licenses) {
    const started = evaluations.get(license.metadata.name)?.trialStartedAt;
    if (license.spec.type === 'Trial' && started && !records.has(license.spec.application)) {
      records.set(license.spec.application, { application: license.spec.application, license: license.metadata.name, startedAt: rfc3339(started) });
    }
  }
  return [...records.values()].sort((a, b) => (a.application < b.application ? -1 : 1));
}

/** For each application with a license keeping its pull secret, the license whose credentials to use (oldest first). */
function pullSecretLicenses(licenses: License[], evaluations: Map<string, LicenseEvaluation>): Map<string, License> {
  const chosen = new Map<string, License>();
  // An Active license beats one in its grace period; then one with its own credentials beats
  // one relying on the application's; then the oldest wins.
  const rank = (l: License) =>
    (evaluations.get(l.metadata.name)!.phase === 'Active' ? 0 : 2) + (l.spec.registryCredentialsSecret ? 0 : 1);
  for (const license of licenses) {
    if (!evaluations.get(license.metadata.name)!.keepsPullSecret) continue;
    const current = chosen.get(license.spec.application);
    if (!current || rank(license) < rank(current)) chosen.set(license.spec.application, license);
  }
  return chosen;
}

function licenseStatus(license: License, e: LicenseEvaluation, now: Date): LicenseStatus {
  const generation = license.metadata.generation;
  const valid = e.phase !== 'Invalid';
  const desired: DesiredCondition[] = [
    { type: 'Valid', status: valid ? 'True' : 'False', reason: valid ? Reason.Valid : e.reason, message: valid ? 'spec and references are valid' : e.message },
    { type: 'Active', status: e.phase === 'Active' ? 'True' : 'False', reason: e.reason, message: e.message },
    {
      type: 'ExpiringSoon',
      status: e.expiringWithinDays ? 'True' : 'False',
      reason: e.expiringSoonReason,
      message: e.expiringWithinDays && e.effectiveExpiresAt ? `expires at ${rfc3339(e.effectiveExpiresAt)}` : 'not expiring within 30 days',
    },
  ];
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    phase: e.phase,
    versions: (license.spec.versions ?? []).join(', '),
    grantedVersions: e.grantedVersions,
    ...(e.effectiveExpiresAt ? { effectiveExpiresAt: rfc3339(e.effectiveExpiresAt) } : {}),
    ...(e.trialStartedAt ? { trialStartedAt: rfc3339(e.trialStartedAt) } : {}),
    ...(license.status?.usage ? { usage: license.status.usage } : {}),
    conditions: mergeConditions(license.status?.conditions, desired, now, generation),
  };
}

const PHASE_EVENTS: Record<LicensePhase, { reason: string; type: 'Normal' | 'Warning' }> = {
  Active: { reason: 'Activated', type: 'Normal' },
  Pending: { reason: 'Pending', type: 'Normal' },
  Expired: { reason: 'Expired', type: 'Warning' },
  Suspended: { reason: 'Suspended', type: 'Warning' },
  Invalid: { reason: 'Invalid', type: 'Warning' },
};

/** Events for what changed since the status the License carries. */
function licenseEvents(license: License, e: LicenseEvaluation): PlannedEvent[] {
  const name = license.metadata.name;
  const previous = license.status;
  const events: PlannedEvent[] = [];
  const previousReason = previous?.conditions?.find((c) => c.type === 'Active')?.reason;
  if (previous?.phase !== e.phase || (e.phase === 'Expired' && previousReason !== e.reason)) {
    const { reason, type } = PHASE_EVENTS[e.phase];
    events.push({ kind: 'License', name, type, reason, message: e.message });
  }
  const previousSoon = previous?.conditions?.find((c) => c.type === 'ExpiringSoon')?.reason;
  if (e.expiringWithinDays && previousSoon !== e.expiringSoonReason) {
    events.push({ kind: 'License', name, type: 'Warning', reason: 'ExpiringSoon', message: `expires within ${e.expiringWithinDays} day(s), at ${rfc3339(e.effectiveExpiresAt!)}` });
  }
  const withdrawn = previous?.phase === 'Active' && e.phase === 'Active'
    ? (previous.grantedVersions ?? []).filter((v) => !e.grantedVersions.includes(v) && (license.spec.revokedVersions ?? []).includes(v))
    : [];
  if (withdrawn.length > 0) {
    events.push({ kind: 'License', name, type: 'Warning', reason: 'VersionRevoked', message: `revoked: ${withdrawn.join(', ')}` });
  }
  return events;
}
