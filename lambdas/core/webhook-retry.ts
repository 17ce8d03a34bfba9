import type { DeliveryAttempt } from "./model.js";
import type { WebhookResponse } from "./ports.js";

/** How deliveries are attempted; from the deployment's configuration. */
export interface DeliveryPolicy {
  maxAttempts: number;
  /** Delay before the first retry; each later one doubles. */
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
}

/** Worth another try: no answer in time, no connection, 408, 429 and 5xx. */
export function isRetryable(response: WebhookResponse): boolean {
  if (response.statusCode === undefined) return response.error?.kind !== "refused";
  return response.statusCode === 408 || response.statusCode === 429 || response.statusCode >= 500;
}

export function isSuccess(response: WebhookResponse): boolean {
  return response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300;
}

/** What became of attempt number `attempt` (1-based) out of `maxAttempts`. */
export function outcomeOf(response: WebhookResponse, attempt: number, maxAttempts: number): DeliveryAttempt["outcome"] {
  if (isSuccess(response)) return "delivered";
  return isRetryable(response) && attempt < maxAttempts ? "retry" : "failed";
}

/**
 * Exponential backoff with up to 20% jitter (so that receivers coming back are not hit by
 * every delivery at once); a Retry-After longer than that is honoured, all capped.
 */
export function retryDelayMs(
  policy: Pick<DeliveryPolicy, "baseDelayMs" | "maxDelayMs">,
  attempt: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const exponential = policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30);
  const jittered = Math.min(policy.maxDelayMs, exponential) * (1 + 0.2 * random());
  return Math.round(Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs ?? 0)));
}
