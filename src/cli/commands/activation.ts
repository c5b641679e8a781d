/**
 * The vendor side of online activation: `licensegate activation-server` answers activation
 * requests; `licensegate activation-key LICENSE [--regenerate]` prints or rotates a License's key.
 * Both work on the vendor's cluster (KUBECONFIG), where the Licenses and the activation records
 * (Secrets in --namespace) live.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { ActivationService } from '../../activation/service.js';
import { serveActivation } from '../../activation/server.js';
import { readPrivateKey } from '../../keys.js';
import { CliError, ExitCode } from '../errors.js';
import { connect, describeApiFailure } from '../kube.js';
import { print } from '../output.js';

const DEFAULT_NAMESPACE = 'licensegate-system';
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** A test- and operations-only clock override (e.g. to check the 30-day rule). */
const nowOption = () => new Option('--now <time>', 'pretend the time is this (RFC 3339)').hideHelp();

function clockFrom(now: string | undefined): () => Date {
  if (now === undefined) return () => new Date();
  const fixed = new Date(now);
  if (Number.isNaN(fixed.getTime())) throw new CliError(`--now "${now}" is not an RFC 3339 time`, ExitCode.Usage);
  return () => fixed;
}

export function registerActivation(program: Command): void {
  program
    .command('activation-server')
    .summary('serve online activation (vendor side)')
    .description(
      'Serves POST /v1/activations for customers\' `licensegate activate --key KEY --server URL`: a valid activation key gets its License signed with --key and bound to the customer\'s cluster. A key activates one cluster; a Trial activates once per cluster. Reads Licenses and keeps activation records (Secrets) in the vendor cluster of KUBECONFIG. Runs until stopped.',
    )
    .requiredOption('--key <file>', 'the vendor private key (vendor.key)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8443')
    .option('--namespace <ns>', 'namespace of the activation records', DEFAULT_NAMESPACE)
    .option('--tls-cert <file>', 'serving certificate (PEM); with --tls-key, the server speaks HTTPS')
    .option('--tls-key <file>', 'serving certificate key (PEM)')
    .option('--allow-plain-http', 'serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy: keys travel in requests)')
    .addOption(nowOption())
    .action(async (options: { key: string; listen: string; namespace: string; tlsCert?: string; tlsKey?: string; allowPlainHttp?: boolean; now?: string }) => {
      const signingKey = usage(() => readPrivateKey(options.key));
      const match = /^(.*):(\d+)$/.exec(options.listen);
      if (!match) throw new CliError(`--listen "${options.listen}" must be HOST:PORT, e.g. 0.0.0.0:8443`, ExitCode.Usage);
      const host = match[1]!.replace(/^\[|\]$/g, '');
      if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new CliError('--tls-cert and --tls-key go together', ExitCode.Usage);
      const tls = options.tlsCert ? { cert: usage(() => readFileSync(options.tlsCert!, 'utf8')), key: usage(() => readFileSync(options.tlsKey!, 'utf8')) } : undefined;
      if (!tls && !LOOPBACK.test(host) && !options.allowPlainHttp) {
        throw new CliError(`refusing plain HTTP on ${host}: activation keys would travel unencrypted; give --tls-cert and --tls-key, or --allow-plain-http behind a TLS proxy`, ExitCode.Usage);
      }
      const cluster = connect();
      const service = new ActivationService(cluster.kc, { namespace: options.namespace, signingKey, clock: clockFrom(options.now) });
      const log = pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
      const server = await serveActivation({ service, host, port: Number(match[2]), ...(tls ? { tls } : {}), log }).catch((error: Error) => {
        throw new CliError(`cannot listen on ${options.listen}: ${error.message}`, ExitCode.Unavailable);
      });
      print(`activation server listening on ${server.url}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });

  program
    .command('activation-key')
    .summary('print or regenerate a License\'s activation key (vendor side)')
    .description(
      'Prints the activation key of LICENSE in the vendor cluster (KUBECONFIG), making one on first use. Hand it to the customer, who runs licensegate activate --key KEY --server URL. --regenerate replaces the key so that another cluster can activate (the old key stops working); allowed once per 30 days.',
    )
    .argument('<license>', 'name of a License in the vendor cluster')
    .option('--regenerate', 'replace the key (once per 30 days)')
    .option('--namespace <ns>', 'namespace of the activation records', DEFAULT_NAMESPACE)
    .addOption(nowOption())
    .action(async (license: string, options: { regenerate?: boolean; namespace: string; now?: string }) => {
      const cluster = connect();
      const service = new ActivationService(cluster.kc, { namespace: options.namespace, clock: clockFrom(options.now) });
      try {
        if (!options.regenerate) return print(await service.keyFor(license));
        const result = await service.regenerate(license);
        if (!result.ok) throw new CliError(`${result.reason}: ${result.message}`, ExitCode.Failure);
        print(result.key);
      } catch (error) {
        if (error instanceof CliError) throw error;
        if (error instanceof Error && /does not exist/.test(error.message)) throw new CliError(error.message, ExitCode.Failure);
        throw describeApiFailure(cluster, `manage the activation key of ${license}`, error);
      }
    });
}

function usage<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new CliError((error as Error).message, ExitCode.Usage);
  }
}
