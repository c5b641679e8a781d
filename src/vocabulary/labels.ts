/**
 * Labels and annotations on everything licensegate writes: vocabulary shared by render/,
 * enforcement/ and the shell, so that none of them imports another's internals for it.
 */

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'licensegate';
export const CUSTOMER_LABEL = 'licensegate.dev/customer';
export const APPLICATION_LABEL = 'licensegate.dev/application';
/** Namespace label with the customer's admission mode; the operator sets it next to the customer label. */
export const ADMISSION_LABEL = 'licensegate.dev/admission';
/**
 * Namespace label of customers holding a license with limits: FailClosed or FailOpen (the
 * Customer's spec.enforcement.limitsWebhook). The limits webhook sees only these namespaces.
 */
export const LIMITS_LABEL = 'licensegate.dev/limits';
/** Set on namespaces the operator created (rather than found), for the record. */
export const CREATED_BY_OPERATOR_ANNOTATION = 'licensegate.dev/created-by-operator';
/** Label selector of every object the operator owns. */
export const OWNED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

/** Labels of an object the operator owns on behalf of a customer. */
export function ownedLabels(customer: string, application?: string): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [CUSTOMER_LABEL]: customer,
    ...(application ? { [APPLICATION_LABEL]: application } : {}),
  };
}
/**
 * A Secret outside the operator's namespace may serve as registry credentials only when its
 * owners label it so (value "true"): naming it in a License or Application is not enough, or
 * whoever may write a License could copy any Secret of the cluster into a customer namespace.
 */
export const CREDENTIALS_OPT_IN_LABEL = 'licensegate.dev/registry-credentials';
