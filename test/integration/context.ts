import { randomBytes } from 'node:crypto';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Absolute path of the admin kubeconfig of the cluster the integration tests run against. */
    kubeconfig: string;
  }
}

/** A client-node KubeConfig for the cluster global-setup.ts started (or was pointed at). */
export function kubeConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(inject('kubeconfig'));
  return config;
}

/**
 * A fresh DNS-1123 name, `<prefix>-<8 hex>`: tests share one cluster, so every object a test
 * creates gets a name no other test (or earlier run against a long-lived cluster) uses.
 */
export function uniqueName(prefix: string): string {
  const base = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63 - 9);
  return `${base}-${randomBytes(4).toString('hex')}`;
}

/** Whether a client-node call failed with HTTP 404. */
export function isNotFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}

/**
 * Retries `check` until it returns without throwing, then returns its value; after
 * `timeoutMs` rethrows its last error. For state that controllers reach eventually.
 */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Polls `read` (a read of the cluster, not a clock) until it yields a value other than
 * undefined; for state no watch helper covers, such as what built-in controllers make.
 */
export async function pollUntil<T>(read: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`state not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
