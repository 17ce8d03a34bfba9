import { availableParallelism, loadavg } from "node:os";

export interface MachineLoad {
  /** Cores this process may run on. */
  cores: number;
  /** The 1-minute load average: runnable tasks, all processes together. */
  load: number;
}

export function currentLoad(): MachineLoad {
  return { cores: availableParallelism(), load: loadavg()[0] ?? 0 };
}

/** Runnable tasks per core from which hashing first is the faster order. */
export const HASH_FIRST_LOAD_PER_CORE = 3;

/**
 * Whether large files the hash cache does not know are sent while they are hashed (open
 * uploads) rather than hashed first; `hashFirst` decides when it is given. Sending while
 * hashing hides the hash (about 0.6 s of CPU per GiB) behind the transfer, but on a busy
 * machine the hash thread takes its CPU from the sending and, in local mode, from the store,
 * and delays each hand-over between them. Measured by bench/log-1gib.ts (1 GiB, local mode,
 * 2 cores, four runs): sending while hashing was faster in 9 of 13 rounds at a load average
 * below 6, slower in 6 of 7 at 6 or more, and slower in 6 of 7 pinned to one core at loads
 * of 13–19.
 */
export function sendWhileHashing(hashFirst: boolean | undefined, machine: MachineLoad = currentLoad()): boolean {
  if (hashFirst !== undefined) return !hashFirst;
  return machine.load < HASH_FIRST_LOAD_PER_CORE * machine.cores;
}
