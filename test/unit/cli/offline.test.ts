/**
 * The CLI as a process, for what needs no cluster: keygen, sign, verify, parsing, exit codes
 * and bad input (one clear line on stderr, a non-zero exit, nothing written).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { ExitCode } from '../../../src/cli/errors.js';
import { parsePublicKeys } from '../../../src/licensing/signature.js';
import { runCli } from '../../cli-process.js';

// Each case starts a process (tsx compiles on start): seconds each on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

const dir = mkdtempSync(join(tmpdir(), 'licensegate-cli-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const LICENSE = `apiVersion: licensegate.dev/v1alpha1
kind: License
metadata:
  name: globex-analytics
spec:
  customer: globex
  application: analytics
  versions: [">=2.0.0 <3.0.0"]
  expiresAt: "2027-12-31T00:00:00Z"
`;
let keyId: string;
let signedPath: string;

beforeAll(async () => {
  const keygen = await runCli(['keygen', '--out', join(dir, 'keys')]);
  expect(keygen, keygen.stderr).toMatchObject({ code: 0 });
  keyId = /key id: (\S+)/.exec(keygen.stdout)![1]!;
  const signed = await runCli(['sign', '--key', join(dir, 'keys', 'vendor.key'), '--sequence', '3', '--issued-at', '2026-11-30T10:00:00Z', '--cluster-id', 'a1b2c3d4-0000-4000-8000-000000000001', file('license.yaml', LICENSE)]);
  expect(signed, signed.stderr).toMatchObject({ code: 0 });
  signedPath = file('signed.yaml', signed.stdout);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const single = (stderr: string) => {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^licensegate: /);
  return lines[0]!;
};

describe('keygen', () => {
  it('writes a PKCS#8 private key with mode 0600 and an SPKI public key, and prints their key id', () => {
    const key = readFileSync(join(dir, 'keys', 'vendor.key'), 'utf8');
    const pub = readFileSync(join(dir, 'keys', 'vendor.pub'), 'utf8');
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(pub).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(statSync(join(dir, 'keys', 'vendor.key')).mode & 0o777).toBe(0o600);
    const parsed = parsePublicKeys(pub);
    expect(parsed.ok && [...parsed.keys.keys()]).toEqual([keyId]);
  });

  it('refuses to overwrite an existing key pair', async () => {
    const before = readFileSync(join(dir, 'keys', 'vendor.key'), 'utf8');
    const result = await runCli(['keygen', '--out', join(dir, 'keys')]);
    expect(result.code).toBe(ExitCode.Usage);
    expect(single(result.stderr)).toMatch(/exists already.*--force/);
    expect(readFileSync(join(dir, 'keys', 'vendor.key'), 'utf8')).toBe(before);
  });
});

describe('sign', () => {
  it('prints the License with spec.signature, ready for kubectl apply', () => {
    const manifest = parse(readFileSync(signedPath, 'utf8'));
    expect(manifest).toMatchObject({ apiVersion: 'licensegate.dev/v1alpha1', kind: 'License', metadata: { name: 'globex-analytics' } });
    expect(manifest.spec).toMatchObject({ customer: 'globex', expiresAt: '2027-12-31T00:00:00Z', suspended: false, type: 'Commercial' });
    expect(manifest.spec.signature.split('.')).toHaveLength(3);
    // Times stay strings for kubectl's YAML 1.1 parser.
    expect(readFileSync(signedPath, 'utf8')).toContain('expiresAt: "2027-12-31T00:00:00Z"');
  });
});

describe('verify', () => {
  it('exit 0 and the claims for a genuine file', async () => {
    const result = await runCli(['verify', '--public-key', join(dir, 'keys', 'vendor.pub'), signedPath, '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      valid: true,
      license: 'globex-analytics',
      sequence: 3,
      issuedAt: '2026-11-30T10:00:00Z',
      kid: keyId,
      cluster: 'a1b2c3d4-0000-4000-8000-000000000001',
    });
  });

  it('exit 1 and SignatureMismatch for a tampered file', async () => {
    const tampered = file('tampered.yaml', readFileSync(signedPath, 'utf8').replace('2027-12-31', '2099-12-31'));
    const result = await runCli(['verify', '--public-key', join(dir, 'keys', 'vendor.pub'), tampered]);
    expect(result.code).toBe(ExitCode.Failure);
    expect(single(result.stderr)).toMatch(/SignatureMismatch.*spec\.expiresAt/);
  });

  it('exit 1 and UnknownSigningKey with another vendor\'s key', async () => {
    const other = file('other.pub', generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const result = await runCli(['verify', '--public-key', other, signedPath]);
    expect(result.code).toBe(ExitCode.Failure);
    expect(single(result.stderr)).toContain('UnknownSigningKey');
  });

  it('exit 1 and WrongCluster when checked against another cluster id', async () => {
    const result = await runCli(['verify', '--public-key', join(dir, 'keys', 'vendor.pub'), '--cluster-id', 'ffffffff-0000-4000-8000-000000000000', signedPath]);
    expect(result.code).toBe(ExitCode.Failure);
    expect(single(result.stderr)).toContain('WrongCluster');
  });

  it('exit 1 and MalformedSignature for a truncated JWS', async () => {
    const text = readFileSync(signedPath, 'utf8').replace(/(signature: \S+?)\.[A-Za-z0-9_-]+\n/, '$1\n');
    const result = await runCli(['verify', '--public-key', join(dir, 'keys', 'vendor.pub'), file('truncated.yaml', text)]);
    expect(result.code).toBe(ExitCode.Failure);
    expect(single(result.stderr)).toContain('MalformedSignature');
  });
});

describe.concurrent('bad input: one line, non-zero exit', () => {
  const key = () => join(dir, 'keys', 'vendor.key');
  it.each([
    ['a file with several documents', () => ['sign', '--key', key(), file('two.yaml', `${LICENSE}---\n${LICENSE}`)], ExitCode.Usage, /2 YAML documents/],
    ['a non-License document', () => ['sign', '--key', key(), file('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n')], ExitCode.Usage, /ConfigMap.*not a License/],
    ['an invalid License spec', () => ['sign', '--key', key(), file('bad.yaml', LICENSE.replace('customer: globex', 'customer: Not_A_Name'))], ExitCode.Usage, /spec\.customer/],
    ['not YAML at all', () => ['sign', '--key', key(), file('junk.yaml', 'a: [b\n')], ExitCode.Usage, /not valid YAML/],
    ['a missing license file', () => ['sign', '--key', key(), join(dir, 'nope.yaml')], ExitCode.Usage, /does not exist/],
    ['a missing key file', () => ['sign', '--key', join(dir, 'nope.key'), join(dir, 'license.yaml')], ExitCode.Usage, /signing key file .* does not exist/],
    ['a malformed PEM key', () => ['sign', '--key', file('bad.key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), join(dir, 'license.yaml')], ExitCode.Usage, /not a PEM private key/],
    ['a malformed PEM public key', () => ['verify', '--public-key', file('bad.pub', 'hello'), join(dir, 'signed.yaml')], ExitCode.Usage, /no PEM block/],
    ['a bad sequence', () => ['sign', '--key', key(), '--sequence', '-1', join(dir, 'license.yaml')], ExitCode.Usage, /--sequence/],
    ['an unknown output format', () => ['verify', '--public-key', join(dir, 'keys', 'vendor.pub'), '-o', 'xml', join(dir, 'signed.yaml')], ExitCode.Usage, /unknown output format/],
    ['an unsigned file to verify', () => ['verify', '--public-key', join(dir, 'keys', 'vendor.pub'), join(dir, 'license.yaml')], ExitCode.Failure, /no spec.signature/],
    ['a bad --month', () => ['usage', '--month', '2027-13'], ExitCode.Usage, /--month/],
  ])('%s', async (_name, args, code, message) => {
    const result = await runCli(args());
    expect(result.code).toBe(code);
    expect(single(result.stderr)).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('a missing argument or unknown command exits with the usage code', async () => {
    expect((await runCli(['sign', join(dir, 'license.yaml')])).code).toBe(ExitCode.Usage);
    expect((await runCli(['frobnicate'])).code).toBe(ExitCode.Usage);
  });

  it('a cluster that does not answer: one line naming the server, exit code 3', async () => {
    const kubeconfig = file('kubeconfig', `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
    const result = await runCli(['activate', signedPath], { env: { KUBECONFIG: kubeconfig } });
    expect(result.code).toBe(ExitCode.Unavailable);
    expect(single(result.stderr)).toMatch(/cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1/);
  });
});

describe('help', () => {
  it('lists every command and documents the exit codes', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['keygen', 'sign', 'verify', 'cluster-id', 'activate', 'info', 'usage']) expect(result.stdout).toContain(command);
    expect(result.stdout).toMatch(/Exit codes:[\s\S]*2 +the command line or an input file is wrong/);
  });
});
