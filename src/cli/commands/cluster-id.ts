/** `licensegate cluster-id`: what a vendor binds a license to. */
import type { Command } from 'commander';
import { clusterId, connect } from '../kube.js';
import { print } from '../output.js';

export function registerClusterId(program: Command): void {
  program
    .command('cluster-id')
    .summary('print this cluster\'s id (for a license bound to it)')
    .description('Prints the UID of the kube-system namespace of the current KUBECONFIG context: send it to the vendor, who signs a license bound to this cluster (licensegate sign --cluster-id).')
    .action(async () => {
      print(await clusterId(connect()));
    });
}
