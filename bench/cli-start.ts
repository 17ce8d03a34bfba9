import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, machine, printTable, run, spread } from "./bench-support.js";

/**
 * `npm run bench:start`: what starting `mreg` costs a user. Packs clients/node with `npm pack`,
 * installs the tarball into an empty directory with `npm install` (its dependencies come from
 * the registry or npm's cache), then runs `node node_modules/mreg/bin/mreg.js --help` there,
 * BENCH_RUNS (10) times after one unmeasured run, with nothing in its environment but PATH;
 * `node -e 0` the same number of times, for the floor. Prints medians and writes JSON to
 * bench/results/.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const GOAL_MS = 300;

async function timeRuns(args: string[], cwd: string, expect: (stdout: string) => boolean): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const started = performance.now();
    const result = await run(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? "" } });
    const ms = Math.round(performance.now() - started);
    if (result.code !== 0 || !expect(result.stdout)) {
      throw new Error(`node ${args.join(" ")} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    }
    if (i > 0) times.push(ms);
  }
  return times;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "mreg-cli-start-"));
  const loadAtStart = load();
  try {
    const packDir = join(work, "pack");
    await mkdir(packDir);
    console.log("packing clients/node …");
    const packed = await run("npm", ["pack", "--pack-destination", packDir, "--loglevel=error"], {
      cwd: join(import.meta.dirname, "../clients/node"),
    });
    if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
    const tarball = join(
      packDir,
      (await readdir(packDir)).find((f) => f.endsWith(".tgz"))!,
    );
    const app = join(work, "app");
    await mkdir(app);
    console.log(`installing ${tarball} into an empty directory …`);
    const installed = await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", tarball], {
      cwd: app,
    });
    if (installed.code !== 0) throw new Error(`npm install failed:\n${installed.stderr}`);

    const bin = join(app, "node_modules", "mreg", "bin", "mreg.js");
    const help = await timeRuns([bin, "--help"], app, (out) => out.startsWith("Usage: mreg"));
    const bare = await timeRuns(["-e", "0"], app, () => true);
    const results = {
      at: new Date().toISOString(),
      machine: machine(),
      loadAverage: { start: loadAtStart, end: load() },
      runs: RUNS,
      helpMs: spread(help),
      nodeMs: spread(bare),
      goalMs: GOAL_MS,
      met: spread(help).median <= GOAL_MS,
    };
    console.log(
      `\n${RUNS} runs each; load average ${loadAtStart.join(" ")} at the start, ${results.loadAverage.end.join(" ")} at the end\n`,
    );
    printTable([
      ["command", "median ms", "spread"],
      [
        "mreg --help (installed from npm pack)",
        String(results.helpMs.median),
        `${results.helpMs.min}–${results.helpMs.max} [${help.join(", ")}]; goal ≤ ${GOAL_MS}: ${results.met ? "ok" : "MISSED"}`,
      ],
      ["node -e 0", String(results.nodeMs.median), `${results.nodeMs.min}–${results.nodeMs.max} [${bare.join(", ")}]`],
    ]);
    const out = join(import.meta.dirname, "results");
    await mkdir(out, { recursive: true });
    const path = join(out, `cli-start-${results.at.replace(/[:.]/g, "-")}.json`);
    await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwritten to ${path}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
