import type { z } from 'zod';
import type { CelRule } from './common.js';

/** A printer column of `kubectl get`. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** Everything the CRD generator needs to know about one resource kind. */
export interface ResourceDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Cluster' | 'Namespaced';
  /** One sentence for the CRD and the API reference. */
  description: string;
  spec: z.ZodType;
  status?: z.ZodType;
  /** Rules on the whole object, where a rule needs metadata.name next to the spec. */
  objectRules?: CelRule[];
  printerColumns: PrinterColumn[];
}
