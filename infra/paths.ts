import { fileURLToPath } from "node:url";
import path from "node:path";

/** The repository root, found from this file so that synth works from any working directory. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The Lambda entry module of a function named in the route table (or of an infra-only one). */
export function handlerEntry(functionName: string): string {
  return path.join(projectRoot, "lambdas", "functions", `${functionName}.ts`);
}
