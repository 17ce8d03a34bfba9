export type ProgressPhase = "hash" | "upload" | "download";

/** What the engines report; the CLI draws bars from it, library callers may ignore it. */
export interface ProgressReporter {
  start(phase: ProgressPhase, totalBytes: number): void;
  /** Bytes moved since the last call; negative when a failed attempt is taken back. */
  advance(phase: ProgressPhase, deltaBytes: number): void;
  end(phase: ProgressPhase): void;
}

export const silentProgress: ProgressReporter = {
  start: () => undefined,
  advance: () => undefined,
  end: () => undefined,
};
