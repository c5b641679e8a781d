/**
 * Runs around every integration file (vitest setupFiles). Files share one control plane, so each
 * leaves it as the next expects: the operators it started are stopped, and no webhook
 * configuration is left pointing at a port nobody serves any more (with failurePolicy Fail it
 * would refuse every workload of every later file).
 */
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { WEBHOOK_CONFIGURATION_NAME } from '../../src/enforcement/webhook-config.js';
import { kubeConfig } from './context.js';
import { stopOperatorsOfThisFile } from './operator-harness.js';

async function removeWebhookConfiguration(): Promise<void> {
  // Every file that wants the webhook starts the operator that serves it, which (re)creates this.
  await kubeConfig().makeApiClient(AdmissionregistrationV1Api).deleteValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }).catch(() => undefined);
}

beforeAll(removeWebhookConfiguration);

afterAll(async () => {
  await stopOperatorsOfThisFile();
  await removeWebhookConfiguration();
});
