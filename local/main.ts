import { acquireDataDirLock } from "./data-dir-lock.js";

/** `npm start`: the embedded registry, per the local-mode contract of the README (Quick start, Local mode). */
async function main(): Promise<void> {
  const started = Date.now();
  // The pinned SDK runs on Node 20; its notice about future releases is noise for a local server.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const dataDir = process.env.MREG_DATA_DIR || ".mreg";
  // First of all: a second server on a data dir in use is refused before it opens anything,
  // and before the stack's modules (a second or more to load) are loaded.
  const lock = await acquireDataDirLock(dataDir);
  const [{ startLocalStack }, { ensureWebAssets }] = await Promise.all([import("./stack.js"), import("./web-assets.js")]);
  // The browser app is served at / from web/dist, rebuilt here when missing or older than web/src.
  await ensureWebAssets({ log: (line) => console.log(line) });
  const stack = await startLocalStack({
    dataDir,
    lock,
    port: portFrom("MREG_PORT") ?? 8787,
    emulatorPorts: { dynamodb: portFrom("MREG_DYNAMODB_PORT"), s3: portFrom("MREG_S3_PORT") },
    adminKey: process.env.MREG_ADMIN_KEY || undefined,
    log: (line) => console.log(line),
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  console.log(`mreg is serving ${stack.url} (data in ${stack.dataDir}, ready in ${Date.now() - started} ms)`);
}

function portFrom(variable: string): number | undefined {
  const value = process.env[variable];
  if (value === undefined || value === "") return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${variable} must be a port number (0-65535), not ${value}`);
  }
  return port;
}

main().catch((error: unknown) => {
  console.error(`mreg: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
