/** The licensegate API: zod schemas (the single source), their TypeScript types, and the CRDs made from them. */
export * from './common.js';
export * from './application.js';
export * from './customer.js';
export * from './license.js';
export * from './versionpolicy.js';
export * from './ledger.js';
export type { ResourceDefinition, PrinterColumn } from './definition.js';

import { applicationDefinition } from './application.js';
import { customerDefinition } from './customer.js';
import { licenseDefinition } from './license.js';
import { versionPolicyDefinition } from './versionpolicy.js';
import { ledgerDefinition } from './ledger.js';

/** Every resource kind licensegate defines, in the order their CRDs are written. */
export const resourceDefinitions = [applicationDefinition, customerDefinition, licenseDefinition, versionPolicyDefinition, ledgerDefinition];
