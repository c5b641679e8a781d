import { describe, expect, it } from 'vitest';
import {
  APPLICATION_LABEL,
  CUSTOMER_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  OWNED_SELECTOR,
  ownedLabels,
} from '../../../src/vocabulary/labels.js';

describe('ownedLabels', () => {
  it('marks an object as managed by licensegate, for a customer', () => {
    expect(ownedLabels('globex')).toEqual({ [MANAGED_BY_LABEL]: MANAGED_BY, [CUSTOMER_LABEL]: 'globex' });
  });

  it('adds the application when given', () => {
    expect(ownedLabels('globex', 'analytics')).toEqual({
      [MANAGED_BY_LABEL]: MANAGED_BY,
      [CUSTOMER_LABEL]: 'globex',
      [APPLICATION_LABEL]: 'analytics',
    });
  });

  it('uses the label names of the API contract', () => {
    expect(MANAGED_BY_LABEL).toBe('app.kubernetes.io/managed-by');
    expect(MANAGED_BY).toBe('licensegate');
    expect(CUSTOMER_LABEL).toBe('licensegate.dev/customer');
    expect(OWNED_SELECTOR).toBe('app.kubernetes.io/managed-by=licensegate');
  });
});
