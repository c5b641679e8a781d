import { describe, expect, it } from 'vitest';
import type { VersionPolicySpec } from '../../../src/api/index.js';
import { reviewAdmission, type ReviewContext } from '../../../src/enforcement/review.js';

const REPO = 'registry.example.com/acme/api';
const policy = (admission: VersionPolicySpec['admission']): VersionPolicySpec => ({
  customer: 'acme',
  admission,
  repositories: { [REPO]: { allowedTags: ['1.0.0'], allowedDigests: [], licenses: ['lic'] } },
});
const deployment = (tag: string, replicas = 1) => ({ kind: 'Deployment', spec: { replicas, template: { spec: { containers: [{ name: 'c', image: `${REPO}:${tag}` }] } } } });
const ctx = (p: VersionPolicySpec | undefined, parent?: object): ReviewContext => ({ policyFor: () => p, parentFor: () => parent });
const scale = (from: number, to: number) => ({
  uid: 'u',
  operation: 'UPDATE' as const,
  subResource: 'scale',
  resource: { group: 'apps', version: 'v1', resource: 'deployments' },
  namespace: 'ns',
  name: 'd',
  object: { kind: 'Scale', spec: { replicas: to } },
  oldObject: { kind: 'Scale', spec: { replicas: from } },
});

describe('reviewAdmission', () => {
  it('allows a licensed workload and refuses an unlicensed one with a 403', () => {
    expect(reviewAdmission({ uid: 'a', operation: 'CREATE', namespace: 'ns', object: deployment('1.0.0') }, ctx(policy('Deny')))).toEqual({ uid: 'a', allowed: true });
    const refused = reviewAdmission({ uid: 'b', operation: 'CREATE', namespace: 'ns', object: deployment('2.0.0') }, ctx(policy('Deny')));
    expect(refused).toMatchObject({ uid: 'b', allowed: false, status: { code: 403, reason: 'Forbidden' } });
    expect(refused.status!.message).toContain(`image ${REPO}:2.0.0 is not licensed for customer acme`);
  });

  it('warns in Warn mode and annotates the audit log in Audit mode', () => {
    expect(reviewAdmission({ uid: 'w', operation: 'CREATE', namespace: 'ns', object: deployment('2.0.0') }, ctx(policy('Warn')))).toMatchObject({ allowed: true, warnings: [expect.stringContaining('not licensed')] });
    expect(reviewAdmission({ uid: 'a', operation: 'CREATE', namespace: 'ns', object: deployment('2.0.0') }, ctx(policy('Audit')))).toMatchObject({ allowed: true, auditAnnotations: { violation: expect.stringContaining('not licensed') } });
  });

  it('refuses everything in a customer namespace without a VersionPolicy (fail closed)', () => {
    expect(reviewAdmission({ uid: 'x', operation: 'CREATE', namespace: 'ns', object: deployment('1.0.0') }, ctx(undefined))).toMatchObject({ allowed: false });
  });

  it('checks scale-ups through /scale against the parent workload, and always allows scaling down', () => {
    expect(reviewAdmission(scale(1, 3), ctx(policy('Deny'), deployment('2.0.0')))).toMatchObject({ allowed: false, status: { message: expect.stringContaining('may not be scaled up') } });
    expect(reviewAdmission(scale(3, 1), ctx(policy('Deny'), deployment('2.0.0')))).toMatchObject({ allowed: true });
    expect(reviewAdmission(scale(1, 3), ctx(policy('Deny'), deployment('1.0.0')))).toMatchObject({ allowed: true });
  });

  it('refuses a scale-up whose parent it cannot see (fails closed), and still allows scaling down', () => {
    expect(reviewAdmission(scale(1, 3), ctx(policy('Deny'), undefined))).toMatchObject({ allowed: false, status: { message: expect.stringContaining("not in the webhook's cache") } });
    expect(reviewAdmission(scale(3, 1), ctx(policy('Deny'), undefined))).toMatchObject({ allowed: true });
  });
});
