/** Application: what the vendor ships (cluster-scoped). */
import { z } from 'zod';
import {
  conditions,
  digestString,
  imageRepository,
  patternString,
  secretReference,
  semverString,
  withRules,
  type Resource,
} from './common.js';
import type { ResourceDefinition } from './definition.js';

export const applicationRelease = z.object({
  version: semverString.describe('The release\'s semantic version, e.g. 2.4.1.'),
  digests: z
    .record(imageRepository, digestString)
    .meta({ maxProperties: 32 })
    .optional()
    .describe(
      'Digest of this release per image repository (a key of spec.images). Listed digests are the strong form of a grant: tags can be re-pushed, digests cannot.',
    ),
});
export type ApplicationRelease = z.infer<typeof applicationRelease>;

/** A gate host: a DNS name or IP, with an optional port (what image references and docker configs name). */
export const GATE_HOST_PATTERN = '^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(:[0-9]{1,5})?$';

/**
 * The registry gate in front of spec.registry.server. With it, customer pull secrets carry
 * per-license gate credentials for this host instead of the vendor's upstream credentials,
 * and the gate maps <host>/<path> to <registry.server>/<path>.
 */
export const registryGate = z
  .object({
    host: patternString(GATE_HOST_PATTERN, 'must be a registry host such as gate.vendor.example or 127.0.0.1:5443 (no scheme, no path)', 255).describe(
      'Host customers pull from, e.g. gate.vendor.example: the licensegate gate serving this application.',
    ),
  })
  .describe(
    'Pull through the licensegate registry gate: each License gets its own credentials, valid only for the versions it grants and only while it is active.',
  );
export type RegistryGate = z.infer<typeof registryGate>;

// Digest keys must be repositories of spec.images; CEL cannot afford that check across the
// whole catalogue, so the Application's Ready condition reports it instead.
export const applicationSpec = withRules(z.object({
    displayName: z.string().max(256).optional().describe('Human-readable name of the application.'),
    images: z
      .array(imageRepository)
      .min(1)
      .max(32)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe(
        'Image repositories that make up the application, without tag or digest, e.g. registry.example.com/acme/api. "nginx" means docker.io/library/nginx. Every customer namespace gates these repositories.',
      ),
    versions: z
      .array(applicationRelease)
      .max(1000)
      .default([])
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['version'] })
      .describe('The release catalogue. License version ranges resolve against it.'),
    tagFormat: withRules(z.string().min(1).max(128).default('{version}'), {
      rule: "self.contains('{version}')",
      message: 'must contain the placeholder {version}, e.g. "{version}" or "v{version}"',
    }).describe('How a version maps to an image tag; "{version}" is replaced by the version, e.g. "v{version}" gives v2.4.1.'),
    registry: z
      .object({
        server: z
          .string()
          .min(1)
          .max(255)
          .describe('Registry host the pull secret authenticates against, e.g. registry.example.com or localhost:5000.'),
        credentialsSecret: secretReference.describe('Default pull credentials for this application\'s images.'),
        gate: registryGate.optional(),
      })
      .optional()
      .describe('Default registry credentials written into customer namespaces as a pull secret; a License may override them.'),
  }), {
    // Pods pull what spec.images names; with a gate they must name the gate, or the pull secret
    // (which then holds only gate credentials) would not match them.
    rule: '!has(self.registry) || !has(self.registry.gate) || self.images.all(i, i.startsWith(self.registry.gate.host + "/"))',
    message: 'with spec.registry.gate, every image must be named at the gate host (e.g. gate.vendor.example/acme/api), so pods pull through the gate',
    fieldPath: '.images',
  });
export type ApplicationSpec = z.infer<typeof applicationSpec>;

export const applicationStatus = z.object({
  observedGeneration: z.number().int().min(0).optional(),
  latestVersion: z.string().max(128).optional().describe('Highest version of the catalogue.'),
  conditions: conditions.optional(),
});
export type ApplicationStatus = z.infer<typeof applicationStatus>;

export type Application = Resource<'Application', ApplicationSpec, ApplicationStatus>;

export const applicationDefinition: ResourceDefinition = {
  kind: 'Application',
  plural: 'applications',
  singular: 'application',
  shortNames: ['lgapp'],
  scope: 'Cluster',
  description: 'An application the vendor ships: its image repositories, release catalogue and registry credentials.',
  spec: applicationSpec,
  status: applicationStatus,
  printerColumns: [
    { name: 'Images', type: 'string', jsonPath: '.spec.images' },
    { name: 'Latest', type: 'string', jsonPath: '.status.latestVersion' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
