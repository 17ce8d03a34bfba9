// Builds the package: the CLI and the SDK bundled to plain ES modules, then the SDK's declarations.
// The wire contract in lambdas/contract/ and the small npm dependencies (zod, commander,
// cli-progress, p-limit) are inlined: one file per chunk loads in about half the time of their
// many module files (bench/cli-start.ts), which every command pays. @aws-sdk/client-s3 stays an
// import: it is large and loads only to list an s3:// prefix. zod stays a dependency too: the
// SDK's declarations name its types. The licences of what was inlined go to
// dist/THIRD-PARTY-LICENSES.txt.
import { execFileSync } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const withTypes = !process.argv.includes("--no-types");

await rm(join(here, "dist"), { recursive: true, force: true });
const { metafile } = await build({
  absWorkingDir: here,
  entryPoints: { cli: "src/cli.ts", index: "src/index.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["@aws-sdk/*"],
  // The CommonJS dependencies (commander, cli-progress) require node built-ins.
  banner: { js: 'import { createRequire as __mregRequire } from "node:module";\nconst require = __mregRequire(import.meta.url);' },
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
});
await writeFile(join(here, "dist", "THIRD-PARTY-LICENSES.txt"), await licencesOf(Object.keys(metafile.inputs)));
if (withTypes) {
  execFileSync(process.execPath, [fileURLToPath(import.meta.resolve("typescript/bin/tsc")), "-p", "tsconfig.build.json"], {
    cwd: here,
    stdio: "inherit",
  });
}

/** The licence text of every npm package that contributed a bundled input. */
async function licencesOf(inputs) {
  const roots = new Set();
  for (const input of inputs) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) roots.add(join(here, match[1]));
  }
  const sections = [];
  for (const root of [...roots].sort()) {
    const { name, version } = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
    const file = (await readdir(root)).find((f) => /^licen[cs]e([-.]|$)/i.test(f));
    if (!file) throw new Error(`no licence file in ${root} (bundled into dist): check its terms before shipping it`);
    sections.push(`${name}@${version}\n\n${(await readFile(join(root, file), "utf8")).trim()}\n`);
  }
  return `${sections.join(`\n${"-".repeat(72)}\n\n`)}`;
}
