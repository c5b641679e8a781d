/**
 * The one module that writes Ledgers (trials, seats, tokens, usage). Every write is a
 * read-modify-write of the latest object, conditioned on what the change decided from: a lost
 * race (409 Conflict, or a failed JSON-patch test) means someone else wrote in between
 * (another webhook replica claiming a token, the reconciler recording usage, the signing code
 * patching spec.signedSequence), so the change is re-decided on the fresh object. That is what
 * makes claims atomic across replicas, and what keeps fields a writer does not own intact.
 *
 * Two kinds of condition: the whole object's resourceVersion (a replace: any other write makes
 * it retry), and, for a change that names the fields it reads and writes, those fields alone (a
 * JSON patch that tests their values, applied atomically by the API server), so writers of
 * disjoint fields cannot make it retry. A change is first tried as a replace (cheaper for the
 * API server) and after a lost race as a patch. The limits webhook's claims read and write only
 * tokens and seats: the usage record the reconciler writes after every change of usage makes
 * a claim retry at most once (issue #9 benchmark: 603–638 retries per 500 claims before).
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, ledgerName, type Ledger, type LedgerSpec } from '../api/index.js';
import { apiError, isConflict, isNotFound } from '../kube/errors.js';
import { ownedLabels } from '../vocabulary/labels.js';
import { sameJson } from './equality.js';

/** Attempts before a contended write gives up (each attempt re-reads and re-decides). */
const MAX_ATTEMPTS = 12;

/**
 * Decides the new spec from the latest one; returns undefined when nothing needs writing.
 * It may be called several times (once per attempt) and must decide from its argument only.
 */
export type LedgerChange<R> = (spec: LedgerSpec) => { spec?: LedgerSpec; result: R };

/** Spec fields a change may name as all it reads and writes (customer and application never change). */
export type LedgerField = Exclude<keyof LedgerSpec, 'customer' | 'application'>;

export interface LedgerChangeOptions {
  /** A recent copy (from a cache): tried first, it saves a read when it is current. */
  known?: Ledger;
  /**
   * Every spec field the change reads or writes, when that is all it touches: the write is
   * then conditioned on these fields alone instead of the whole object. A change that writes
   * a field outside them is written with the whole-object condition.
   */
  fields?: readonly LedgerField[];
}

/** One JSON Patch (RFC 6902) operation. */
export type JsonPatchOperation = { op: 'test' | 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/**
 * The JSON patch that turns `current` into `next` if, and only if, `fields` still hold what
 * they hold in `current`; undefined when that cannot be said as a patch: a changed field
 * outside `fields`, or a tested field absent from `current` (RFC 6902 cannot test absence).
 */
export function fieldPatch(current: LedgerSpec, next: LedgerSpec, fields: readonly LedgerField[]): JsonPatchOperation[] | undefined {
  const keys = new Set<string>([...Object.keys(current), ...Object.keys(next)]);
  const changed = [...keys].filter((key) => !sameJson(current[key as keyof LedgerSpec], next[key as keyof LedgerSpec]));
  if (changed.some((key) => !fields.includes(key as LedgerField))) return undefined;
  if (fields.some((field) => current[field] === undefined)) return undefined;
  const path = (field: string) => `/spec/${field}`;
  return [
    ...fields.map((field): JsonPatchOperation => ({ op: 'test', path: path(field), value: current[field] })),
    ...changed.map((field): JsonPatchOperation =>
      next[field as LedgerField] === undefined ? { op: 'remove', path: path(field) } : { op: 'replace', path: path(field), value: next[field as LedgerField] },
    ),
  ];
}

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
  /** The last change queued per Ledger (settled, never rejecting): the next one waits for it. */
  private readonly inFlight = new Map<string, Promise<void>>();

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
   * with a conditional write (see the top of this file), deciding again on the live object
   * after each lost race. This writer's own changes of one Ledger run one at a time, each from
   * what the one before stored: the webhook's claims and the reconciler's usage records in one
   * process never race each other.
   */
  async change<R>(customer: string, application: string, change: LedgerChange<R>, options: LedgerChangeOptions = {}): Promise<LedgerWriteOutcome<R>> {
    const name = ledgerName(customer, application);
    const run = (this.inFlight.get(name) ?? Promise.resolve()).then(() => this.changeNow(customer, application, change, options));
    const settled = run.then(() => undefined, () => undefined);
    this.inFlight.set(name, settled);
    try {
      return await run;
    } finally {
      if (this.inFlight.get(name) === settled) this.inFlight.delete(name);
    }
  }

  private async changeNow<R>(customer: string, application: string, change: LedgerChange<R>, options: LedgerChangeOptions): Promise<LedgerWriteOutcome<R>> {
    let current: Ledger | undefined | null = this.freshest(options.known) ?? null;
    for (let attempt = 1; ; attempt++) {
      if (current === null) current = await this.read(customer, application);
      const base: LedgerSpec = current?.spec ?? { customer, application };
      const decided = change(structuredClone(base));
      if (!decided.spec) return { result: decided.result, wrote: false, ledger: current };
      // First a plain replace: the cheapest write for the API server (a JSON patch of a Ledger
      // holding hundreds of seats costs it up to twice as much), and usually from a current copy.
      // After a lost race, a patch of the named fields: writes of other fields cannot beat it again.
      const patch = attempt > 1 && current && options.fields ? fieldPatch(base, decided.spec, options.fields) : undefined;
      try {
        const stored = !current
          ? await this.create(customer, application, decided.spec)
          : patch
            ? await this.patch(current, patch)
            : await this.replace(current, decided.spec);
        this.stored.set(stored.metadata.name, stored);
        return { result: decided.result, wrote: true, ledger: stored };
      } catch (error) {
        // Someone wrote first (409 Conflict), created it first (409 AlreadyExists), or changed a
        // tested field (422 from the patch's test): decide again on theirs, read live.
        const { code, message } = apiError(error);
        const lost = isConflict(error) || (patch !== undefined && code === 422);
        if (lost) this.observe.onConflict?.();
        if (!lost || attempt >= MAX_ATTEMPTS) {
          throw new Error(`Ledger ${ledgerName(customer, application)}: write failed after ${attempt} attempt(s): ${code} ${message}`);
        }
        const tested = base;
        current = await this.read(customer, application);
        // A 422 with the tested fields unchanged was no lost race but a refusal (the new value is invalid).
        if (patch && code === 422 && options.fields!.every((field) => sameJson(current?.spec?.[field], tested[field]))) {
          throw new Error(`Ledger ${ledgerName(customer, application)}: write refused: ${code} ${message}`);
        }
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

  /** A JSON patch: the API server applies its tests and changes atomically, against the object as stored. */
  private async patch(current: Ledger, operations: JsonPatchOperation[]): Promise<Ledger> {
    this.observe.onWrite?.();
    return (await this.custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: 'ledgers', name: current.metadata.name, body: operations },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )) as Ledger;
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
