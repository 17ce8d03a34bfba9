import cliProgress from "cli-progress";
import { formatBytes } from "./format-bytes.js";
import type { ProgressPhase, ProgressReporter } from "./progress.js";

export { formatBytes };

const LABELS: Record<ProgressPhase, string> = { hash: "hashing    ", upload: "uploading  ", download: "downloading" };

/**
 * One bar per phase (bytes, rate, ETA) on the terminal, drawn together when phases overlap
 * (a large file is sent while it is hashed); nothing at all when stderr is not a TTY.
 * Starting a phase that is running adds to its total. `close` stops whatever bars a failure
 * left running, which restores the cursor.
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): (ProgressReporter & { close(): void }) | undefined {
  if (!stream.isTTY) return undefined;
  let container: cliProgress.MultiBar | undefined;
  const bars = new Map<ProgressPhase, { bar: cliProgress.SingleBar; total: number; done: number; started: number }>();
  const rate = (state: { done: number; started: number }) => {
    const seconds = (performance.now() - state.started) / 1000;
    return formatBytes(seconds > 0 ? state.done / seconds : 0);
  };
  const stopAll = () => {
    container?.stop();
    container = undefined;
    bars.clear();
  };
  return {
    start(phase, totalBytes) {
      const running = bars.get(phase);
      if (running) {
        running.total = Math.max(0, running.total + totalBytes);
        running.bar.setTotal(running.total);
        return;
      }
      if (totalBytes <= 0) return;
      container ??= new cliProgress.MultiBar(
        {
          stream,
          format: "{label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}",
          formatValue: (value, options, type) =>
            type === "value" || type === "total" ? formatBytes(Number(value)) : cliProgress.Format.ValueFormat(value, options, type),
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      const bar = container.create(totalBytes, 0, { label: LABELS[phase], rate: formatBytes(0) });
      bars.set(phase, { bar, total: totalBytes, done: 0, started: performance.now() });
    },
    advance(phase, delta) {
      const state = bars.get(phase);
      if (!state) return;
      state.done += delta;
      state.bar.update(Math.max(0, state.done), { rate: rate(state) });
    },
    end(phase) {
      const state = bars.get(phase);
      if (!state) return;
      state.bar.update(Math.max(0, state.done), { rate: rate(state) });
      state.bar.stop();
      bars.delete(phase);
      // The finished bars stay on screen; the container lets go of the terminal once all are done.
      if (bars.size === 0) stopAll();
    },
    close: stopAll,
  };
}
