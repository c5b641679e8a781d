/**
 * `licensegate gate`: runs the registry gate (an OCI pull proxy in front of the vendor's
 * registry that serves each license only what it grants now), and `licensegate gate rotate
 * LICENSE` gives a license new gate credentials (the old token stops working at once; the
 * operator then writes the new one into the customer's pull secrets).
 */
import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { newGateToken } from '../../gate/token.js';
import { gateCredentialsLicense, gateCredentialsSecretName } from '../../vocabulary/gate.js';
import { CliError, ExitCode } from '../errors.js';

const DEFAULT_NAMESPACE = process.env.LICENSEGATE_NAMESPACE ?? 'licensegate-system';
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Parses HOST:PORT (IPv6 in brackets). */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new CliError(`--listen ${value}: expected HOST:PORT, e.g. 0.0.0.0:5443 or [::1]:5000`, ExitCode.Usage);
  return { host: match[1] ?? match[2]!, port };
}

// Libraries load when a command runs, not when the CLI starts: every other command would pay for them.
async function kubeConfig(): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

export function registerGate(program: Command): void {
  const gate = program
    .command('gate')
    .description('Run the registry gate: customers pull through it with per-license credentials, and get only the versions their license grants now.')
    .option('--listen <host:port>', 'address to serve the registry API on', '0.0.0.0:5443')
    .option('--tls-cert <file>', 'PEM certificate (chain) to serve')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--plain-http', 'serve plain HTTP instead of TLS: only on a loopback address, for tests and local use')
    .option('--namespace <ns>', 'namespace of the gate credentials and the vendor\'s upstream credentials', DEFAULT_NAMESPACE)
    .option('--metrics-port <port>', 'port of /metrics, /healthz and /readyz (0: any free port)', '8080')
    .option('--upstream-plain-http <hosts>', 'comma-separated upstream registry hosts spoken to over plain HTTP (loopback test registries)', '')
    .option('--log-level <level>', 'fatal, error, warn, info, debug', process.env.LOG_LEVEL ?? 'info')
    .action(async (options: { listen: string; tlsCert?: string; tlsKey?: string; plainHttp?: boolean; namespace: string; metricsPort: string; upstreamPlainHttp: string; logLevel: string }) => {
      const { host, port } = parseListen(options.listen);
      if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new CliError('--tls-cert and --tls-key go together', ExitCode.Usage);
      if (!options.tlsCert && !options.plainHttp) throw new CliError('the gate serves TLS: give --tls-cert and --tls-key (or --plain-http on a loopback address)', ExitCode.Usage);
      if (options.plainHttp && options.tlsCert) throw new CliError('--plain-http and --tls-cert exclude each other', ExitCode.Usage);
      if (options.plainHttp && !LOOPBACK.has(host)) {
        throw new CliError(`--plain-http only on a loopback address (127.0.0.1, ::1, localhost), not ${host}: credentials would cross the network in clear`, ExitCode.Usage);
      }
      const metricsPort = Number(options.metricsPort);
      if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535) throw new CliError(`--metrics-port ${options.metricsPort}: a port number`, ExitCode.Usage);
      const readPem = async (file: string) => {
        try {
          return await readFile(file, 'utf8');
        } catch (error) {
          throw new CliError(`cannot read ${file}: ${(error as Error).message}`, ExitCode.Usage);
        }
      };
      const tls = options.tlsCert ? { cert: await readPem(options.tlsCert), key: await readPem(options.tlsKey!) } : undefined;
      const [{ startGate }, { createLogger }, { gateApiAccess }] = await Promise.all([import('../../gate/run.js'), import('../../logger.js'), import('../../gate/apiaccess.js')]);
      const log = createLogger(options.logLevel, 'licensegate-gate');
      let running;
      try {
        running = await startGate({
          kc: await gateApiAccess(),
          namespace: options.namespace,
          host,
          port,
          tls,
          metricsPort,
          plainHttpUpstreams: options.upstreamPlainHttp.split(',').map((h) => h.trim()).filter(Boolean),
          log,
        });
      } catch (error) {
        throw new CliError(`the gate could not start: ${(error as Error).message}`, ExitCode.Unavailable);
      }
      // A mounted Secret changes in place when its certificate rotates: reload it.
      const reload = async () => {
        try {
          running.setTls({ cert: await readFile(options.tlsCert!, 'utf8'), key: await readFile(options.tlsKey!, 'utf8') });
          log.info({ file: options.tlsCert }, 'gate certificate reloaded');
        } catch (error) {
          log.error({ err: error }, 'gate certificate reload failed; serving the previous one');
        }
      };
      if (options.tlsCert) watchFile(options.tlsCert, { interval: 10_000 }, () => void reload());
      // Tests and scripts read the bound ports from this line.
      process.stdout.write(`${JSON.stringify({ gate: 'serving', port: running.port, metricsPort: running.metricsPort })}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          if (options.tlsCert) unwatchFile(options.tlsCert);
          void running.close().then(resolve, resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });

  gate
    .command('rotate')
    .description('Give a license new gate credentials: the old token stops working at once; the operator puts the new one into the customer\'s pull secrets.')
    .argument('<license>', 'name of the License')
    .option('--namespace <ns>', 'namespace of the gate credentials', DEFAULT_NAMESPACE)
    .action(async (license: string, options: { namespace: string }) => {
      const [{ CoreV1Api, PatchStrategy, setHeaderOptions }, { apiError }] = await Promise.all([import('@kubernetes/client-node'), import('../../kube/errors.js')]);
      const core = (await kubeConfig()).makeApiClient(CoreV1Api);
      const name = gateCredentialsSecretName(license);
      let secret;
      try {
        secret = await core.readNamespacedSecret({ name, namespace: options.namespace });
      } catch (error) {
        const { code, message } = apiError(error);
        if (code === 404) {
          throw new CliError(`no gate credentials for license ${license} (Secret ${options.namespace}/${name}): is its Application's spec.registry.gate set and the operator running?`, ExitCode.Failure);
        }
        throw new CliError(`cannot read Secret ${options.namespace}/${name}: ${message}`, ExitCode.Unavailable);
      }
      if (gateCredentialsLicense(secret) !== license) throw new CliError(`Secret ${options.namespace}/${name} is not licensegate's gate credentials for ${license}`, ExitCode.Failure);
      try {
        await core.patchNamespacedSecret(
          { name, namespace: options.namespace, body: { metadata: { resourceVersion: secret.metadata?.resourceVersion }, data: { password: Buffer.from(newGateToken()).toString('base64') } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (error) {
        const { code, message } = apiError(error);
        throw new CliError(code === 409 ? `Secret ${name} changed while rotating; run the command again` : `cannot rotate: ${message}`, code === 409 ? ExitCode.Failure : ExitCode.Unavailable);
      }
      process.stdout.write(`rotated gate credentials of license ${license}; the previous token no longer works\n`);
    });
}
