import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** Vitest global setup: the CLI tests run the built `mreg` bin, so build it from the current source. */
export default function buildClient(): void {
  execFileSync(process.execPath, ["build.mjs", "--no-types"], {
    cwd: join(import.meta.dirname, "../../clients/node"),
    stdio: "inherit",
  });
}
