/** Command-line options of the reconcile benchmark (node:util parseArgs; no dependency). */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Customers to create (each gets one namespace and three Licenses). */
  customers: number;
  /** Licenses to edit one after another for the edit-latency figure. */
  edits: number;
  /** Licenses edited one after another while a periodic resync runs (0: skip that phase). */
  resyncEdits: number;
  /** Edits in flight at once (1 = strictly sequential). */
  editConcurrency: number;
  /** Requests in flight while creating the fixture objects. */
  createConcurrency: number;
  /** LICENSEGATE_RESYNC_SECONDS given to the operator (its minimum is 10). */
  resyncSeconds: number;
  /** LICENSEGATE_WORKERS given to the operator; undefined keeps the operator's default. */
  workers: number | undefined;
  /** Also run kube-controller-manager (service accounts and root-CA ConfigMaps in each new namespace: more API load, closer to a real cluster). */
  controllerManager: boolean;
  /** Hard limit for the whole run, in seconds. */
  timeoutSeconds: number;
  /** Directory for a V8 CPU profile of the operator (node --cpu-prof), written when it stops. */
  operatorCpuProfile: string | undefined;
  /** Run the operator under tsx instead of building dist/ and running it with node. */
  tsx: boolean;
  /** Deployments created in each customer namespace before the operator starts (its workload caches hold them). */
  workloads: number;
  /** Pods created in a namespace no customer owns (the cluster-wide workload caches see them too). */
  foreignPods: number;
}

const USAGE = `usage: npm run bench:reconcile -- [options]
  --customers N            customers (1 namespace, 3 licenses each)     default 1000
  --edits M                licenses edited for the latency figure      default 200
  --resync-edits R         licenses edited while a resync runs         default 50
  --edit-concurrency K     edits in flight at once                     default 1
  --create-concurrency C   requests in flight while creating objects   default 16
  --resync-seconds S       operator's periodic resync (>= 10)          default 60
  --workers W              operator's LICENSEGATE_WORKERS              default: operator's own (4)
  --controller-manager     also run kube-controller-manager            default off
  --timeout-seconds T      abort the whole run after T seconds         default 900
  --operator-cpu-prof DIR  write a V8 CPU profile of the operator to DIR (node --cpu-prof)
  --workloads W            Deployments per customer namespace          default 1
  --foreign-pods P         Pods in a namespace no customer owns        default: customers
  --tsx                    run the operator under tsx (default: npm run build, then node dist/src/main.js)`;

/** Parses argv (without node and script); throws with the usage text on a bad option. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        customers: { type: 'string' },
        edits: { type: 'string' },
        'resync-edits': { type: 'string' },
        'edit-concurrency': { type: 'string' },
        'create-concurrency': { type: 'string' },
        'resync-seconds': { type: 'string' },
        workers: { type: 'string' },
        'controller-manager': { type: 'boolean' },
        'timeout-seconds': { type: 'string' },
        'operator-cpu-prof': { type: 'string' },
        tsx: { type: 'boolean' },
        workloads: { type: 'string' },
        'foreign-pods': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in [${min}, ${max}], got "${raw}"\n${USAGE}`);
    return n;
  };
  const customers = int('customers', values.customers, 1000, 1, 20_000);
  return {
    customers,
    edits: int('edits', values.edits, 200, 0, 10_000),
    resyncEdits: int('resync-edits', values['resync-edits'], 50, 0, 10_000),
    editConcurrency: int('edit-concurrency', values['edit-concurrency'], 1, 1, 64),
    createConcurrency: int('create-concurrency', values['create-concurrency'], 16, 1, 128),
    resyncSeconds: int('resync-seconds', values['resync-seconds'], 60, 10, 3600),
    workers: values.workers === undefined ? undefined : int('workers', values.workers, 4, 1, 64),
    controllerManager: values['controller-manager'] ?? false,
    timeoutSeconds: int('timeout-seconds', values['timeout-seconds'], 900, 60, 24 * 3600),
    operatorCpuProfile: values['operator-cpu-prof'],
    tsx: values.tsx ?? false,
    workloads: int('workloads', values.workloads, 1, 0, 10),
    foreignPods: int('foreign-pods', values['foreign-pods'], customers, 0, 100_000),
  };
}
