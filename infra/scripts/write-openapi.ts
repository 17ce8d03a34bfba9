/**
 * `npm run openapi`: writes the OpenAPI document (lambdas/contract/openapi.ts) to
 * docs/openapi.json; test/unit/openapi.test.ts fails while the committed file is stale.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { openApiJson } from "../../lambdas/contract/openapi.js";
import { projectRoot } from "../paths.js";

export const OPENAPI_FILE = path.join(projectRoot, "docs", "openapi.json");

writeFileSync(OPENAPI_FILE, openApiJson());
console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
