/**
 * Memoised signature verification for the operator process. Verifying Ed25519 is most of what
 * a signed license costs the planner (a few hundred µs on a busy machine), and its answer
 * depends only on the JWS and the vendor keys, which are read once at start: every reconcile
 * after the first reuses it. Bounded: when full, it starts over (reconciles refill what is live).
 */
import { verifySignature, type SigningKeys, type VerifyResult } from '../licensing/signature.js';

export function memoizedVerifier(keys: SigningKeys, maxEntries = 20_000): (jws: string) => VerifyResult {
  const cache = new Map<string, VerifyResult>();
  return (jws) => {
    const known = cache.get(jws);
    if (known) return known;
    const result = verifySignature(jws, keys);
    if (cache.size >= maxEntries) cache.clear();
    cache.set(jws, result);
    return result;
  };
}
