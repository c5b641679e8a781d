/**
 * Every write the operator makes goes through here: server-side apply with one field
 * manager, deletes that tolerate absence, status applies, and Events. It counts writes, so
 * tests and benchmarks can prove that a converged cluster costs none.
 */
import { randomBytes } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { FIELD_MANAGER } from './apply.js';
import { isNotFound } from './errors.js';

/** Thrown by a write attempted while the writer is closed (leadership lost): nothing was sent. */
export class WritesClosedError extends Error {
  constructor() {
    super('not writing: this operator is not the leader (any more)');
  }
}

/** Called once per write, for metrics. */
export type WriteObserver = (verb: 'apply' | 'delete' | 'status' | 'event' | 'patch', kind: string) => void;

/** Identifies the object an Event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export class KubeWriter {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  /** Writes made so far. */
  writes = 0;

  constructor(
    kc: KubeConfig,
    private readonly options: {
      fieldManager?: string;
      component?: string;
      onWrite?: WriteObserver;
      /**
       * Asked before every write; false refuses it with WritesClosedError. The operator closes
       * its writer when it loses the lease, so reconciles still in flight stop writing at once
       * instead of racing the new leader.
       */
      mayWrite?: () => boolean;
    } = {},
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.admission = kc.makeApiClient(AdmissionregistrationV1Api);
  }

  private get fieldManager(): string {
    return this.options.fieldManager ?? FIELD_MANAGER;
  }

  private count(verb: Parameters<WriteObserver>[0], kind: string): void {
    if (this.options.mayWrite && !this.options.mayWrite()) throw new WritesClosedError();
    this.writes++;
    this.options.onWrite?.(verb, kind);
  }

  /** Server-side applies `object`, taking ownership of the fields it sets. */
  async apply<T extends KubernetesObject>(object: T): Promise<T> {
    this.count('apply', object.kind ?? '');
    return this.objects.patch(object, undefined, undefined, this.fieldManager, true, PatchStrategy.ServerSideApply);
  }

  /** JSON merge patch, for fields that may be owned by anyone (labels we add or remove). */
  async mergePatch(object: KubernetesObject): Promise<KubernetesObject> {
    this.count('patch', object.kind ?? '');
    return this.objects.patch(object, undefined, undefined, this.fieldManager, undefined, PatchStrategy.MergePatch);
  }

  /** RFC 6902 JSON patch of a ValidatingWebhookConfiguration someone else ships (its caBundle). */
  async patchWebhookConfiguration(name: string, operations: object[]): Promise<void> {
    this.count('patch', 'ValidatingWebhookConfiguration');
    await this.admission.patchValidatingWebhookConfiguration(
      { name, body: operations, fieldManager: this.fieldManager },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
  }

  /** Deletes an object; one that is already gone is fine. */
  async delete(object: KubernetesObject): Promise<void> {
    this.count('delete', object.kind ?? '');
    try {
      await this.objects.delete(object);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Server-side applies the status of a cluster-scoped licensegate object. */
  async applyClusterStatus(args: { group: string; version: string; plural: string; kind: string; name: string; status: unknown }): Promise<void> {
    this.count('status', args.kind);
    await this.custom.patchClusterCustomObjectStatus(
      {
        group: args.group,
        version: args.version,
        plural: args.plural,
        name: args.name,
        body: { apiVersion: `${args.group}/${args.version}`, kind: args.kind, metadata: { name: args.name }, status: args.status },
        fieldManager: this.fieldManager,
        force: true,
      },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
  }

  /**
   * Records a core/v1 Event. Events about cluster-scoped objects go to "default", where
   * `kubectl describe` finds them.
   */
  async event(subject: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string, now: Date): Promise<void> {
    this.count('event', 'Event');
    const namespace = subject.namespace ?? 'default';
    const time = now.toISOString();
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name: `${subject.name}.${randomBytes(8).toString('hex')}`, namespace },
        involvedObject: { apiVersion: subject.apiVersion, kind: subject.kind, name: subject.name, namespace: subject.namespace, uid: subject.uid },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.options.component ?? FIELD_MANAGER },
        reportingComponent: this.options.component ?? FIELD_MANAGER,
        reportingInstance: this.options.component ?? FIELD_MANAGER,
        firstTimestamp: new Date(time),
        lastTimestamp: new Date(time),
        count: 1,
      },
    });
  }
}
