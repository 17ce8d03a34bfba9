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

/**
 * Whether large files the hash cache does not know are sent while they are hashed (open
 * uploads) rather than hashed first; `hashFirst` decides when it is given. Sending while
 * hashing hides the hash (about 0.6 s per GiB) behind the transfer when a core is free to
 * hash. Without one, the hash thread also delays each hand-over between the thread that sends
 * and the store that receives: measured by bench/log-1gib.ts on one core, and on two cores
 * under a load of 15, sending while hashing was the slower of the two in most rounds.
 */
export function sendWhileHashing(hashFirst: boolean | undefined, machine: MachineLoad = currentLoad()): boolean {
  if (hashFirst !== undefined) return !hashFirst;
  return machine.cores - machine.load >= 1;
}
