/**
 * Turns a zod schema into a CustomResourceDefinition. zod's JSON Schema output is close to a
 * structural OpenAPI v3 schema; this adapts the rest (see `toStructural`).
 */
import { z } from 'zod';
import { GROUP, PATTERN_MESSAGE_KEY, VERSION, type CelRule } from './common.js';
import type { ResourceDefinition } from './definition.js';

type JsonSchema = { [key: string]: unknown };

const JS_SAFE_INTEGER_BOUND = Number.MAX_SAFE_INTEGER;

/** Quotes a regex for CEL; raw strings keep backslashes as they are. */
function celRegexLiteral(pattern: string): string {
  if (pattern.includes("'")) throw new Error(`pattern ${pattern} contains a single quote, which the CEL literal cannot hold`);
  return `r'${pattern}'`;
}

/**
 * Rewrites one zod-generated JSON Schema node (recursively) into what a CRD accepts:
 * - patterns that carry a message become CEL rules, so a refusal says how to fix the value;
 * - zod's own date-time pattern goes (the `date-time` format checks it, in RE2-safe form);
 * - keywords CRDs reject (`$schema`, `propertyNames`, `additionalProperties: false`) go;
 * - zod's ±2^53 integer bounds go, since they only restate JavaScript's number range.
 */
export function toStructural(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  const rules: CelRule[] = [...((node['x-kubernetes-validations'] as CelRule[] | undefined) ?? [])];
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case '$schema':
      case 'propertyNames':
      case PATTERN_MESSAGE_KEY:
      case 'x-kubernetes-validations':
        break;
      case 'additionalProperties':
        if (typeof value === 'object' && value !== null) out[key] = toStructural(value as JsonSchema);
        break;
      case 'pattern':
        if (node.format === 'date-time') break;
        if (typeof node[PATTERN_MESSAGE_KEY] === 'string') {
          rules.unshift({ rule: `self.matches(${celRegexLiteral(value as string)})`, message: node[PATTERN_MESSAGE_KEY] as string });
        } else {
          out[key] = value;
        }
        break;
      case 'maximum':
      case 'minimum':
        if (Math.abs(value as number) !== JS_SAFE_INTEGER_BOUND) out[key] = value;
        break;
      case 'properties':
        out[key] = Object.fromEntries(
          Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [name, toStructural(child)]),
        );
        break;
      case 'items':
        out[key] = toStructural(value as JsonSchema);
        break;
      default:
        if (key === 'anyOf' || key === 'oneOf' || key === 'allOf') {
          throw new Error(`schema uses ${key}, which a structural CRD schema cannot express; restructure the zod schema`);
        }
        out[key] = value;
    }
  }
  if (rules.length > 0) out['x-kubernetes-validations'] = rules;
  return out;
}

/** The OpenAPI v3 schema of a zod schema, ready for a CRD. */
export function openApiSchema(schema: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as JsonSchema);
}

/** The CustomResourceDefinition for a resource definition. */
export function toCrd(def: ResourceDefinition): JsonSchema {
  const properties: JsonSchema = {
    apiVersion: { type: 'string', description: 'APIVersion of this object: licensegate.dev/v1alpha1.' },
    kind: { type: 'string', description: `Kind of this object: ${def.kind}.` },
    metadata: { type: 'object' },
    spec: openApiSchema(def.spec),
  };
  if (def.status) properties.status = openApiSchema(def.status);
  const rootSchema: JsonSchema = {
    type: 'object',
    description: def.description,
    required: ['spec'],
    properties,
  };
  if (def.objectRules?.length) rootSchema['x-kubernetes-validations'] = def.objectRules;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'licensegate', 'app.kubernetes.io/part-of': 'licensegate' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: ['licensegate'],
      },
      scope: def.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: rootSchema },
          subresources: def.status ? { status: {} } : undefined,
          additionalPrinterColumns: def.printerColumns,
        },
      ],
    },
  };
}
