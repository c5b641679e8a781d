/**
 * Reasons that License conditions, Events and logs carry. Tests import these rather than
 * repeating the strings.
 */
import { SignatureReason } from './signature.js';

export const Reason = {
  ...SignatureReason,
  Active: 'Active',
  Suspended: 'Suspended',
  NotYetValid: 'NotYetValid',
  Expired: 'Expired',
  TrialEnded: 'TrialEnded',
  InGracePeriod: 'InGracePeriod',
  InvalidSpec: 'InvalidSpec',
  InvalidVersionConstraint: 'InvalidVersionConstraint',
  ApplicationNotFound: 'ApplicationNotFound',
  CustomerNotFound: 'CustomerNotFound',
  TrialAlreadyUsed: 'TrialAlreadyUsed',
  RequiredLicenseNotFound: 'RequiredLicenseNotFound',
  RequiredLicenseInactive: 'RequiredLicenseInactive',
  Valid: 'Valid',
  NotExpiringSoon: 'NotExpiringSoon',
  ExpiresWithin30Days: 'ExpiresWithin30Days',
  ExpiresWithin7Days: 'ExpiresWithin7Days',
  ExpiresWithin1Day: 'ExpiresWithin1Day',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
