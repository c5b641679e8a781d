/** Reading the API server's errors out of @kubernetes/client-node's exceptions. */
import { ApiException } from '@kubernetes/client-node';

/** The parts of a failed API call worth acting on. */
export interface ApiError {
  /** HTTP status, or 0 when the request never got an answer. */
  code: number;
  /** The Status reason, e.g. NotFound, AlreadyExists, Conflict, Invalid, Forbidden. */
  reason: string;
  /** The API server's own message, which names the field and the rule. */
  message: string;
}

/** Normalises anything a client-node call throws into an ApiError. */
export function apiError(error: unknown): ApiError {
  if (error instanceof ApiException) {
    const body = parseBody(error.body);
    return {
      code: error.code,
      reason: typeof body?.reason === 'string' ? body.reason : '',
      message: typeof body?.message === 'string' ? body.message : String(error.body ?? error.message),
    };
  }
  return { code: 0, reason: '', message: error instanceof Error ? error.message : String(error) };
}

function parseBody(body: unknown): Record<string, unknown> | undefined {
  if (typeof body === 'object' && body !== null) return body as Record<string, unknown>;
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export const isNotFound = (error: unknown): boolean => apiError(error).code === 404;
export const isConflict = (error: unknown): boolean => apiError(error).code === 409;
