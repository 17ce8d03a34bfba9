#!/usr/bin/env node
// The `mreg` command: the CLI bundled to plain JavaScript by `npm run build` (build.mjs).
import { main } from "../dist/cli.js";

process.exitCode = await main(process.argv);
