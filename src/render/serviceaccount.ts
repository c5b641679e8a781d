/**
 * The pull Secrets on a customer namespace's `default` ServiceAccount: pods that name no
 * ServiceAccount and no imagePullSecrets get the ServiceAccount's (the ServiceAccount admission
 * plugin copies them into the pod), so `kubectl create deployment` of a granted version pulls.
 *
 * The list is shared with the namespace's owner, who may add Secrets of their own: the operator
 * adds and removes only the names it added, which it remembers in an annotation (a name it
 * finds already listed before it added it stays the owner's and is never removed).
 */
import type { V1ServiceAccount } from '@kubernetes/client-node';

/** The ServiceAccount pods run as when they name none. */
export const DEFAULT_SERVICE_ACCOUNT = 'default';
/** Comma-separated names of the pull Secrets the operator added to the ServiceAccount. */
export const ADDED_PULL_SECRETS_ANNOTATION = 'licensegate.dev/added-pull-secrets';

/** The change to make to a ServiceAccount, or none. */
export type ServiceAccountPullSecretsChange =
  | { change: false }
  | {
      change: true;
      /** The complete new `imagePullSecrets` (a merge patch replaces lists whole). */
      imagePullSecrets: { name: string }[];
      /** The new annotation value; null removes the annotation. */
      added: string | null;
    };

/**
 * What the ServiceAccount's imagePullSecrets must become so that it lists `wanted` (the pull
 * Secrets the operator writes in its namespace; empty to take all of the operator's back): the
 * owner's entries keep their place, the operator's follow in order, stale ones of the operator
 * go. Pure: the caller reads the ServiceAccount and writes the result.
 */
export function planServiceAccountPullSecrets(serviceAccount: Pick<V1ServiceAccount, 'imagePullSecrets' | 'metadata'>, wanted: readonly string[]): ServiceAccountPullSecretsChange {
  const current = (serviceAccount.imagePullSecrets ?? []).map((ref) => ref.name ?? '').filter((name) => name !== '');
  const previouslyAdded = new Set(parseAdded(serviceAccount.metadata?.annotations?.[ADDED_PULL_SECRETS_ANNOTATION]));
  // The owner's: listed, and not added by the operator.
  const owners = current.filter((name) => !previouslyAdded.has(name));
  const ownersSet = new Set(owners);
  const wantedUnique = [...new Set(wanted)].sort();
  // The operator's: wanted and not already the owner's (then it is theirs to remove).
  const added = wantedUnique.filter((name) => !ownersSet.has(name));
  const next = [...owners, ...added];
  const annotation = added.length > 0 ? added.join(',') : null;
  const currentAnnotation = previouslyAdded.size > 0 ? [...previouslyAdded].sort().join(',') : null;
  if (sameList(current, next) && annotation === currentAnnotation) return { change: false };
  return { change: true, imagePullSecrets: next.map((name) => ({ name })), added: annotation };
}

function parseAdded(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}
