// Builds the package: the CLI and the SDK bundled to plain ES modules (the wire contract in
// lambdas/contract/ is inlined; npm dependencies stay imports), then the SDK's declarations.
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const withTypes = !process.argv.includes("--no-types");

await rm(new URL("./dist", import.meta.url), { recursive: true, force: true });
await build({
  absWorkingDir: here,
  entryPoints: { cli: "src/cli.ts", index: "src/index.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});
if (withTypes) {
  execFileSync(process.execPath, [fileURLToPath(import.meta.resolve("typescript/bin/tsc")), "-p", "tsconfig.build.json"], {
    cwd: here,
    stdio: "inherit",
  });
}
