import cliProgress from "cli-progress";
import type { ProgressPhase, ProgressReporter } from "./progress.js";

const LABELS: Record<ProgressPhase, string> = { hash: "hashing    ", upload: "uploading  ", download: "downloading" };

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/**
 * One bar per phase (bytes, rate, ETA) on the terminal; nothing at all when stderr is not a
 * TTY. `close` stops whatever bar a failure left running, which restores the cursor.
 */
export function terminalProgress(
  stream: NodeJS.WriteStream = process.stderr,
): (ProgressReporter & { close(): void }) | undefined {
  if (!stream.isTTY) return undefined;
  const bars = new Map<ProgressPhase, { bar: cliProgress.SingleBar; done: number; started: number }>();
  return {
    start(phase, totalBytes) {
      if (totalBytes <= 0) return;
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${LABELS[phase]} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
          formatValue: (value, options, type) =>
            type === "value" || type === "total" ? formatBytes(Number(value)) : cliProgress.Format.ValueFormat(value, options, type),
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(totalBytes, 0, { rate: formatBytes(0) });
      bars.set(phase, { bar, done: 0, started: performance.now() });
    },
    advance(phase, delta) {
      const state = bars.get(phase);
      if (!state) return;
      state.done += delta;
      const seconds = (performance.now() - state.started) / 1000;
      state.bar.update(Math.max(0, state.done), { rate: formatBytes(seconds > 0 ? state.done / seconds : 0) });
    },
    end(phase) {
      bars.get(phase)?.bar.stop();
      bars.delete(phase);
    },
    close() {
      for (const { bar } of bars.values()) bar.stop();
      bars.clear();
    },
  };
}
