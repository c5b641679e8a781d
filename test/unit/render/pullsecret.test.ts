import { describe, expect, it } from 'vitest';
import {
  CREDENTIALS_INVALID,
  pullSecretName,
  renderPullSecret,
  type CredentialsSecret,
} from '../../../src/render/pullsecret.js';
import { APPLICATION_LABEL, CUSTOMER_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../../../src/vocabulary/labels.js';
import { REGISTRY, b64, basicAuthSecret, dockerConfigSecret, readDockerConfig, unb64 } from '../fixtures.js';

const SOURCE = 'Secret licensegate-system/acme-registry';

// `server` is a required parameter: a default would turn an explicit undefined into REGISTRY.
const render = (credentials: CredentialsSecret, server: string | undefined) =>
  renderPullSecret({ namespace: 'globex-prod', customer: 'globex', application: 'analytics', server, credentials, source: SOURCE });

describe('renderPullSecret', () => {
  it('copies a kubernetes.io/dockerconfigjson Secret as is', () => {
    const credentials = dockerConfigSecret('other.example', 'robot', 's3cret');
    const result = render(credentials, REGISTRY);
    expect(result).toEqual({
      ok: true,
      secret: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'licensegate-pull-analytics',
          namespace: 'globex-prod',
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [CUSTOMER_LABEL]: 'globex', [APPLICATION_LABEL]: 'analytics' },
        },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': credentials.data!['.dockerconfigjson'] },
      },
    });
  });

  it('copies a dockerconfigjson Secret even without a registry server', () => {
    expect(render(dockerConfigSecret('other.example', 'robot', 's3cret'), undefined).ok).toBe(true);
  });

  it.each([
    ['acme-puller', 'change-me'],
    ['user@example.com', 'p:a:s:s'], // a colon in the password stays part of the password
    ['ünïcødé', 'pässwörd'],
  ])('turns basic-auth %s into a valid dockerconfigjson for the server', (username, password) => {
    const result = render(basicAuthSecret(username, password), REGISTRY);
    if (!result.ok) throw new Error(result.message);
    expect(result.secret.type).toBe('kubernetes.io/dockerconfigjson');
    expect(result.secret.metadata?.name).toBe(pullSecretName('analytics'));
    expect(Object.keys(result.secret.data ?? {})).toEqual(['.dockerconfigjson']);
    const config = readDockerConfig(result.secret.data?.['.dockerconfigjson']);
    expect(Object.keys(config.auths)).toEqual([REGISTRY]);
    const entry = config.auths[REGISTRY]!;
    expect(entry).toEqual({ username, password, auth: b64(`${username}:${password}`) });
    expect(unb64(entry.auth!)).toBe(`${username}:${password}`);
  });

  it('writes the server as given, port included', () => {
    const result = render(basicAuthSecret('u', 'p'), 'localhost:5000');
    if (!result.ok) throw new Error(result.message);
    expect(Object.keys(readDockerConfig(result.secret.data?.['.dockerconfigjson']).auths)).toEqual(['localhost:5000']);
  });

  it('is deterministic', () => {
    expect(render(basicAuthSecret('u', 'p'), REGISTRY)).toEqual(render(basicAuthSecret('u', 'p'), REGISTRY));
  });

  it.each<[string, CredentialsSecret, string | undefined, string]>([
    ['basic-auth without a registry server', basicAuthSecret('u', 'p'), undefined, 'spec.registry.server'],
    ['basic-auth with an empty registry server', basicAuthSecret('u', 'p'), '', 'spec.registry.server'],
    ['basic-auth without a username', { type: 'kubernetes.io/basic-auth', data: { password: b64('p') } }, REGISTRY, 'username'],
    ['basic-auth without a password', { type: 'kubernetes.io/basic-auth', data: { username: b64('u') } }, REGISTRY, 'password'],
    ['basic-auth with an empty username', { type: 'kubernetes.io/basic-auth', data: { username: '', password: b64('p') } }, REGISTRY, 'username'],
    ['basic-auth without data', { type: 'kubernetes.io/basic-auth', data: undefined }, REGISTRY, 'username'],
    ['dockerconfigjson without its key', { type: 'kubernetes.io/dockerconfigjson', data: {} }, REGISTRY, '.dockerconfigjson'],
    ['no type', { type: undefined, data: { username: b64('u'), password: b64('p') } }, REGISTRY, '(none)'],
    ['an Opaque Secret', { type: 'Opaque', data: { username: b64('u'), password: b64('p') } }, REGISTRY, 'Opaque'],
    ['a legacy dockercfg Secret', { type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64('{}') } }, REGISTRY, 'kubernetes.io/dockercfg'],
  ])('%s is a value error naming the Secret', (_name, credentials, server, mentions) => {
    const result = render(credentials, server);
    expect(result).toEqual({ ok: false, reason: CREDENTIALS_INVALID, message: expect.stringContaining(SOURCE) });
    if (!result.ok) expect(result.message).toContain(mentions);
  });
});

describe('pullSecretName', () => {
  it('names the Secret after the application', () => {
    expect(pullSecretName('acme-analytics')).toBe('licensegate-pull-acme-analytics');
  });
});
