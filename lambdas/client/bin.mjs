#!/usr/bin/env node
// The `mreg` bin: registers tsx so the TypeScript CLI runs as is, from the repository or an install.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./cli.ts");
process.exitCode = await main(process.argv);
