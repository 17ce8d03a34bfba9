import { startLocalStack } from "../local/stack.js";

/**
 * The embedded registry in its own process, as `npm start` runs it, so the benchmark's client
 * does not share an event loop with the S3 emulator and the API. Prints one JSON line.
 */
const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: stack-process.ts <data dir>");
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const stack = await startLocalStack({ dataDir, port: 0 });
process.stdout.write(
  `${JSON.stringify({
    url: stack.url,
    adminKey: stack.adminKey,
    s3: stack.endpoints.s3,
    dynamodb: stack.endpoints.dynamodb,
    // The emulator answers only this stack's key pair (local/s3-credentials.ts).
    credentials: { accessKeyId: stack.config.credentials!.accessKeyId, secretAccessKey: stack.config.credentials!.secretAccessKey },
  })}\n`,
);
const stop = () => void stack.stop().finally(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
