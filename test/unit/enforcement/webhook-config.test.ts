import { describe, expect, it } from 'vitest';
import { limitsExemptionExpression, renderWebhookConfiguration, withPath } from '../../../src/enforcement/webhook-config.js';
import { LIMITS_LABEL } from '../../../src/vocabulary/labels.js';

const render = (engine: 'policy' | 'webhook') =>
  renderWebhookConfiguration({ engine, clientConfig: { url: 'https://127.0.0.1:9443/validate' }, caBundle: 'CA', exemptUsernames: ['system:serviceaccount:licensegate-system:licensegate'] });

describe('the limits webhooks', () => {
  it('see only labelled namespaces, one failing closed and one open, at /limits, with side effects only off dry runs', () => {
    const hooks = render('policy').webhooks.filter((w) => w.name.startsWith('limits'));
    expect(hooks.map((w) => [w.name, w.failurePolicy, w.namespaceSelector.matchExpressions])).toEqual([
      ['limits.licensegate.dev', 'Fail', [{ key: LIMITS_LABEL, operator: 'In', values: ['FailClosed'] }]],
      ['limits-open.licensegate.dev', 'Ignore', [{ key: LIMITS_LABEL, operator: 'In', values: ['FailOpen'] }]],
    ]);
    for (const w of hooks) {
      expect(w.clientConfig).toMatchObject({ url: 'https://127.0.0.1:9443/limits' });
      expect((w as { sideEffects: string }).sideEffects).toBe('NoneOnDryRun');
      const resources = w.rules.flatMap((r) => r.resources);
      expect(resources).toEqual(expect.arrayContaining(['deployments', 'deployments/scale', 'pods', 'jobs', 'cronjobs', 'daemonsets']));
      expect(resources).not.toContain('podtemplates');
    }
  });

  it('judge the horizontal pod autoscaler but not the other built-in controllers or the operator', () => {
    const expr = limitsExemptionExpression(['op']);
    expect(expr).toContain("request.userInfo.username == 'system:serviceaccount:kube-system:horizontal-pod-autoscaler'");
    expect(expr).toContain("!(request.userInfo.username in ['op'])");
  });

  it('keep the service reference when the path changes', () => {
    expect(withPath({ service: { namespace: 'n', name: 's', path: '/validate', port: 443 } }, '/limits')).toEqual({ service: { namespace: 'n', name: 's', path: '/limits', port: 443 } });
  });
});
