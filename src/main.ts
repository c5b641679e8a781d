/** Entry point of the operator container: runs against the in-cluster (or KUBECONFIG) API server. */
import { runOperator } from './run.js';

runOperator().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
