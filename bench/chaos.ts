/**
 * `npm run chaos -- [--customers 200] [--kills 20] [--seed N]`: cold convergence of N
 * customers, undisturbed and with the operator process SIGKILLed at random moments (restarted
 * at once each time); prints both runs' figures and every difference between their end
 * states (VersionPolicies, pull Secrets, License and Customer statuses, namespace labels).
 * Exits 1 if the end states differ. Starts its own control plane unless KUBECONFIG is set.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { installCrds } from '../src/kube/crds.js';
import { startLocalCluster } from '../src/localcluster/index.js';
import { runChaos } from './lib/chaos.js';

const { values } = parseArgs({
  options: { customers: { type: 'string', default: '200' }, kills: { type: 'string', default: '20' }, seed: { type: 'string', default: '20261202' } },
});
const customers = Number(values.customers);
const kills = Number(values.kills);
const seed = Number(values.seed);

const cluster = process.env['KUBECONFIG'] ? undefined : await startLocalCluster();
const kubeconfigPath = cluster?.kubeconfigPath ?? process.env['KUBECONFIG']!;
try {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  await installCrds(kc);
  const result = await runChaos({
    kc,
    kubeconfigPath,
    repoRoot: join(import.meta.dirname, '..'),
    customers,
    kills,
    seed,
    prefix: `chaos${Date.now().toString(36)}`,
    log: (line) => console.log(line),
  });
  console.log('');
  console.log(`objects compared        ${result.objects}`);
  console.log(`                        undisturbed   killed x${result.chaos.restarts}`);
  console.log(`converged (ms)          ${String(result.calm.convergedMs).padEnd(13)} ${result.chaos.convergedMs}`);
  console.log(`API writes              ${String(result.calm.writes).padEnd(13)} ${result.chaos.writes}`);
  console.log(`Events                  ${String(result.calm.events).padEnd(13)} ${result.chaos.events}`);
  console.log(`end states              ${result.differences.length === 0 ? 'identical' : `${result.differences.length} difference(s)`}`);
  for (const d of result.differences.slice(0, 20)) console.log(`  ${d}`);
  process.exitCode = result.differences.length === 0 ? 0 : 1;
} finally {
  await cluster?.stop();
}
