/** `licensegate usage`: the monthly usage records the Ledgers keep (or live usage when they have none). */
import type { Command } from 'commander';
import type { Ledger, License } from '../../api/index.js';
import { ledgerName } from '../../api/index.js';
import { CliError, ExitCode } from '../errors.js';
import { connect } from '../kube.js';
import { getLicense, listLedgers, listLicenses } from '../licenses.js';
import { csv, parseFormat, print, structured, table } from '../output.js';

export interface UsageRow {
  customer: string;
  application: string;
  month: string;
  peakReplicas: number | undefined;
  peakNamespaces: number | undefined;
  seatHolders: number | undefined;
  replicaHours: number | undefined;
  /** ledger: the durable monthly record; live: the License's current status.usage (no record yet). */
  source: 'ledger' | 'live';
}

const MONTH = /^[0-9]{4}-(0[1-9]|1[0-2])$/;

export function registerUsage(program: Command): void {
  program
    .command('usage')
    .summary('monthly usage per customer and application')
    .description(
      'Prints the monthly usage records of the Ledgers (peak replicas, peak namespaces holding tokens, distinct seat holders, replica-hours), for billing. Where a Ledger has no record yet, the License\'s live status.usage is shown for the current month (source "live").',
    )
    .option('--license <name>', 'only the customer and application of this License')
    .option('--month <YYYY-MM>', 'only this UTC month')
    .option('-o, --output <format>', 'json, yaml or csv (default: a table for people)')
    .action(async (options: { license?: string; month?: string; output?: string }) => {
      const format = parseFormat(options.output, ['table', 'json', 'yaml', 'csv']);
      if (options.month !== undefined && !MONTH.test(options.month)) throw new CliError(`--month "${options.month}" must be a month such as 2027-01`, ExitCode.Usage);
      const cluster = connect();
      const licenses = options.license ? [await getLicense(cluster, options.license)] : await listLicenses(cluster);
      const ledgers = await listLedgers(cluster);
      const rows = usageRows(licenses, ledgers, { all: !options.license, month: options.month, now: new Date() });
      const headers = ['customer', 'application', 'month', 'peakReplicas', 'peakNamespaces', 'seatHolders', 'replicaHours', 'source'] as const;
      const cells = rows.map((r) => headers.map((h) => r[h]));
      if (format === 'json' || format === 'yaml') return print(structured(rows, format));
      if (format === 'csv') return print(csv([...headers], cells));
      if (rows.length === 0) return print('no usage recorded');
      print(table(['CUSTOMER', 'APPLICATION', 'MONTH', 'PEAK REPLICAS', 'PEAK NAMESPACES', 'SEAT HOLDERS', 'REPLICA-HOURS', 'SOURCE'], cells));
    });
}

/**
 * The rows to show: every monthly record of the Ledgers in scope; for a customer × application
 * whose Ledger has none, one "live" row per License from its status.usage. Clock passed in.
 */
export function usageRows(licenses: License[], ledgers: Ledger[], scope: { all: boolean; month: string | undefined; now: Date }): UsageRow[] {
  const pairs = new Map<string, { customer: string; application: string }>();
  for (const l of licenses) pairs.set(ledgerName(l.spec.customer, l.spec.application), { customer: l.spec.customer, application: l.spec.application });
  if (scope.all) for (const g of ledgers) pairs.set(g.metadata.name, { customer: g.spec.customer, application: g.spec.application });
  const thisMonth = scope.now.toISOString().slice(0, 7);
  const rows: UsageRow[] = [];
  for (const [name, pair] of pairs) {
    const records = ledgers.find((g) => g.metadata.name === name)?.spec.usage ?? [];
    if (records.length > 0) {
      for (const r of records) {
        rows.push({ ...pair, month: r.month, peakReplicas: r.peakReplicas, peakNamespaces: r.peakNamespaces, seatHolders: r.seatHolders.length, replicaHours: r.replicaHours, source: 'ledger' });
      }
      continue;
    }
    for (const l of licenses.filter((x) => x.spec.customer === pair.customer && x.spec.application === pair.application && x.status?.usage)) {
      const u = l.status!.usage!;
      rows.push({ ...pair, month: thisMonth, peakReplicas: u.replicas, peakNamespaces: u.namespaces?.length, seatHolders: u.seats, replicaHours: undefined, source: 'live' });
    }
  }
  return rows
    .filter((r) => scope.month === undefined || r.month === scope.month)
    .sort((a, b) => a.customer.localeCompare(b.customer) || a.application.localeCompare(b.application) || a.month.localeCompare(b.month));
}
