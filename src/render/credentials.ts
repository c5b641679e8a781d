/**
 * Which credentials Secrets the operator may copy into customer namespaces. The operator can
 * read Secrets cluster-wide; without this rule it would be a confused deputy, copying any
 * Secret a License or Application names to wherever the License's customer deploys. Allowed:
 * Secrets in the operator's own namespace, and Secrets elsewhere that their owners opted in
 * with the CREDENTIALS_OPT_IN_LABEL.
 */
import type { SecretReference } from '../api/index.js';
import { CREDENTIALS_OPT_IN_LABEL } from '../vocabulary/labels.js';
import type { CredentialsSecret } from './pullsecret.js';

/** Condition/phase reason of a reference to a Secret the operator may not use. */
export const CREDENTIALS_NOT_ALLOWED = 'CredentialsNotAllowed';

/**
 * Why `ref` may not be used (undefined when it may). A missing Secret outside the operator's
 * namespace is refused too: it cannot have opted in.
 */
export function credentialsRefusal(ref: SecretReference, operatorNamespace: string, secret: CredentialsSecret | undefined): string | undefined {
  if (ref.namespace === operatorNamespace) return undefined;
  if (secret?.labels?.[CREDENTIALS_OPT_IN_LABEL] === 'true') return undefined;
  return (
    `Secret ${ref.namespace}/${ref.name} may not be used as registry credentials: only Secrets in the operator's namespace ` +
    `(${operatorNamespace}) or Secrets labelled ${CREDENTIALS_OPT_IN_LABEL}=true by their owners are`
  );
}
