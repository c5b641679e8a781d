/**
 * The one module that writes Ledgers (trials, seats, tokens, usage). Every write is a
 * read-modify-write of the latest object with its resourceVersion as precondition: a 409
 * Conflict means someone else wrote in between (another webhook replica claiming a token, the
 * signing code patching spec.signedSequence), so the change is re-decided on the fresh object.
 * That is what makes claims atomic across replicas, and what keeps fields this module does not
 * own intact.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, ledgerName, type Ledger, type LedgerSpec } from '../api/index.js';
import { apiError, isConflict, isNotFound } from '../kube/errors.js';
import { ownedLabels } from '../vocabulary/labels.js';

/** Attempts before a contended write gives up (each attempt re-reads and re-decides). */
const MAX_ATTEMPTS = 12;

/**
 * Decides the new spec from the latest one; returns undefined when nothing needs writing.
 * It may be called several times (once per attempt) and must decide from its argument only.
 */
export type LedgerChange<R> = (spec: LedgerSpec) => { spec?: LedgerSpec; result: R };

export interface LedgerWriteOutcome<R> {
  result: R;
  /** Whether a write happened (false when the change decided nothing needed writing). */
  wrote: boolean;
  /** The Ledger as stored after the write (or as read, when nothing was written). */
  ledger: Ledger | undefined;
}

export class LedgerWriter {
  private readonly custom: CustomObjectsApi;
  /** What this writer last stored per Ledger: fresher than an informer cache right after a write. */
  private readonly stored = new Map<string, Ledger>();

  constructor(
    kc: KubeConfig,
    private readonly observe: {
      /** Called once per write sent. */
      onWrite?: () => void;
      /** Called when a write lost a race (409): contention worth watching. */
      onConflict?: () => void;
    } = {},
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  /** Reads the Ledger of customer × application, or undefined when there is none yet. */
  async read(customer: string, application: string): Promise<Ledger | undefined> {
    try {
      return (await this.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ledgers', name: ledgerName(customer, application) })) as Ledger;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Applies `change` to the latest Ledger of customer × application (creating it if missing)
   * with a compare-and-swap write, retrying on conflicts. `known` is a recent copy (from a
   * cache): trying it first saves a read when it is current.
   */
  async change<R>(customer: string, application: string, change: LedgerChange<R>, known?: Ledger): Promise<LedgerWriteOutcome<R>> {
    let current: Ledger | undefined | null = this.freshest(known) ?? null;
    for (let attempt = 1; ; attempt++) {
      if (current === null) current = await this.read(customer, application);
      const base: LedgerSpec = current?.spec ?? { customer, application };
      const decided = change(structuredClone(base));
      if (!decided.spec) return { result: decided.result, wrote: false, ledger: current };
      try {
        const stored = current
          ? await this.replace(current, decided.spec)
          : await this.create(customer, application, decided.spec);
        this.stored.set(stored.metadata.name, stored);
        return { result: decided.result, wrote: true, ledger: stored };
      } catch (error) {
        // Someone wrote first (409 Conflict), or created it first (409 AlreadyExists): decide again on theirs.
        if (isConflict(error)) this.observe.onConflict?.();
        if (!isConflict(error) || attempt >= MAX_ATTEMPTS) {
          const { code, message } = apiError(error);
          throw new Error(`Ledger ${ledgerName(customer, application)}: write failed after ${attempt} attempt(s): ${code} ${message}`);
        }
        current = null;
      }
    }
  }

  /**
   * The newer of a cached copy and what this writer stored last (by resourceVersion, which
   * etcd happens to make increasing; a wrong guess costs only a conflict and a re-read): claims
   * made one after another then do not each start from a copy the cache has not caught up with.
   */
  private freshest(known: Ledger | undefined): Ledger | undefined {
    if (!known) return undefined;
    const mine = this.stored.get(known.metadata.name);
    if (!mine) return known;
    const rv = (l: Ledger) => BigInt(/^[0-9]+$/.test(l.metadata.resourceVersion ?? '') ? l.metadata.resourceVersion! : '0');
    return rv(mine) > rv(known) ? mine : known;
  }

  private async replace(current: Ledger, spec: LedgerSpec): Promise<Ledger> {
    this.observe.onWrite?.();
    const body: Ledger = { ...current, apiVersion: API_VERSION, kind: 'Ledger', spec };
    return (await this.custom.replaceClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ledgers', name: current.metadata.name, body })) as Ledger;
  }

  private async create(customer: string, application: string, spec: LedgerSpec): Promise<Ledger> {
    this.observe.onWrite?.();
    const body: Ledger = {
      apiVersion: API_VERSION,
      kind: 'Ledger',
      metadata: { name: ledgerName(customer, application), labels: ownedLabels(customer, application) },
      spec,
    };
    return (await this.custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ledgers', body })) as Ledger;
  }
}
