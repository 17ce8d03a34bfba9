import { BlobBusyError } from "./errors.js";
import type { BlobLedger, Clock, HeldBlobClaim } from "./ports.js";

/** A claim being held: renewed in the background until stopped. */
export interface ClaimHold {
  /** The claim as last renewed. */
  readonly claim: HeldBlobClaim;
  /**
   * Aborts (with a BlobBusyError) once the claim is known lost, or once its lease is within
   * a third of running out without a renewal: from then on another verifier may take it, so
   * the holder must not write to the blob store any more.
   */
  readonly signal: AbortSignal;
  /** Throws the abort reason once `signal` has aborted, or would have by the clock. */
  check(): void;
  stop(): void;
}

/**
 * Keeps a blob claim while its verification runs (hashing a large blob takes minutes): a
 * renewal every third of the lease, so a live holder never loses it, and a dead one's lapses
 * within one lease. A holder that cannot renew (cut off from the table) gives up a third of
 * the lease before anyone may take over, which leaves that third for a write in flight.
 */
export function holdBlobClaim(deps: { ledger: BlobLedger; clock: Clock }, granted: HeldBlobClaim): ClaimHold {
  const controller = new AbortController();
  let current = granted;
  const leaseMs = Math.max(1, Date.parse(granted.leaseUntil) - deps.clock.now().getTime());
  const renewEveryMs = Math.max(1, Math.floor(leaseMs / 3));
  const marginMs = renewEveryMs;
  const giveUpAt = () => Date.parse(current.leaseUntil) - marginMs;
  const lose = (message: string) => {
    if (!controller.signal.aborted) controller.abort(new BlobBusyError(message));
  };
  let renewTimer: NodeJS.Timeout | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  const armDeadline = () => {
    clearTimeout(deadlineTimer);
    deadlineTimer = setTimeout(
      () => lose(`the claim on sha256 ${granted.sha256} could not be renewed; retry shortly`),
      Math.max(0, giveUpAt() - deps.clock.now().getTime()),
    );
    deadlineTimer.unref?.();
  };
  const schedule = (delayMs: number) => {
    renewTimer = setTimeout(() => void renew(), delayMs);
    renewTimer.unref?.();
  };
  const renew = async () => {
    if (stopped || controller.signal.aborted) return;
    try {
      const renewed = await deps.ledger.renewBlobClaim(current, deps.clock.now().toISOString());
      if (stopped) return;
      if (!renewed) {
        lose(`sha256 ${granted.sha256} is being verified by another upload; retry shortly`);
        return;
      }
      current = renewed;
      armDeadline();
      schedule(renewEveryMs);
    } catch {
      // The table did not answer (throttled, unreachable): try again sooner; the deadline stands.
      if (!stopped) schedule(Math.max(1, Math.floor(renewEveryMs / 3)));
    }
  };

  armDeadline();
  schedule(renewEveryMs);
  return {
    get claim() {
      return current;
    },
    signal: controller.signal,
    check() {
      if (deps.clock.now().getTime() >= giveUpAt()) lose(`the claim on sha256 ${granted.sha256} could not be renewed; retry shortly`);
      controller.signal.throwIfAborted();
    },
    stop() {
      stopped = true;
      clearTimeout(renewTimer);
      clearTimeout(deadlineTimer);
    },
  };
}
