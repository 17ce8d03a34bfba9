/**
 * `npm run admin:recount-refs -- --table <name> --bucket <name> [--region <region>]`:
 * recomputes every blob's reference count from the manifests of the live versions (and of
 * deleted ones whose release is unfinished), and marks blobs tracked (lambdas/core/gc.ts,
 * recountRefs). Blobs verified before reference tracking are never collected until this has
 * run; it also repairs the leaks a crash between a commit's pins and its commit leaves. Each
 * write is conditioned on the count read before counting: safe while the registry serves.
 * Uses the caller's AWS credentials; prints the report as JSON.
 */
import { parseArgs } from "node:util";
import { createServices } from "../../lambdas/composition.js";
import { loadConfig } from "../../lambdas/config.js";
import { recountRefs } from "../../lambdas/core/gc.js";

const usage = "usage: npm run admin:recount-refs -- --table <table name> --bucket <bucket name> [--region <region>]";

const { values } = parseArgs({ options: { table: { type: "string" }, bucket: { type: "string" }, region: { type: "string" } } });
const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
if (!values.table || !values.bucket || !region) {
  console.error(usage);
  process.exit(2);
}
const services = createServices(loadConfig({}, { tableName: values.table, bucket: values.bucket, region }));
const report = await recountRefs(services);
console.log(JSON.stringify(report, null, 2));
if (report.missing.length > 0) {
  console.error(`${report.missing.length} blobs are named by live versions but not stored: see "missing"`);
  process.exit(1);
}
