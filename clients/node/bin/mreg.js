#!/usr/bin/env node
// The `mreg` command: the CLI bundled to plain JavaScript by `npm run build` (build.mjs).
import { main } from "../dist/cli.js";

const code = await main(process.argv);
// Connections kept alive for reuse would hold the process open after the command is done
// (close to a second, measured by bench/log-1gib.ts on a re-log): end it once what it printed is flushed.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
process.exit(code);
