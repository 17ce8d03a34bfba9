import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LAUNCHER_PATH, dynamoDbLocalCommand, dynamoDbLocalDistDir } from "../../local/dynamodb-local.js";

const distDir = "/opt/ddb";
const launcherPath = "/src/LoopbackLauncher.java";

describe("dynamoDbLocalCommand", () => {
  it("runs the loopback launcher in source-file mode, in memory, with telemetry off", () => {
    const command = dynamoDbLocalCommand({ port: 8123, distDir, launcherPath });
    expect(command).toEqual({
      command: "java",
      args: [
        "-Djava.library.path=/opt/ddb/DynamoDBLocal_lib",
        "-Dloopback.exitOnStdinEof=true",
        "-cp",
        `/opt/ddb/DynamoDBLocal.jar${path.delimiter}/opt/ddb/DynamoDBLocal_lib/*`,
        "/src/LoopbackLauncher.java",
        "-port",
        "8123",
        "-sharedDb",
        "-disableTelemetry",
        "-inMemory",
      ],
      env: { DDB_LOCAL_TELEMETRY: "0" },
    });
  });

  it("stores data in dataDir instead of memory", () => {
    const { args } = dynamoDbLocalCommand({ port: 9000, dataDir: "/var/data/ddb", distDir, launcherPath });
    expect(args.slice(-2)).toEqual(["-dbPath", "/var/data/ddb"]);
    expect(args).not.toContain("-inMemory");
    expect(args).toContain("-sharedDb");
  });

  it("passes an absolute dbPath, since the JVM's working directory is not the caller's", () => {
    const { args } = dynamoDbLocalCommand({ port: 9000, dataDir: "data/ddb", distDir, launcherPath });
    expect(args.at(-1)).toBe(path.resolve("data/ddb"));
  });

  it("puts launcher arguments after the source file, JVM options before it", () => {
    const { args } = dynamoDbLocalCommand({ port: 1, distDir, launcherPath });
    // In source-file mode everything after the file goes to main(), not to the JVM.
    const source = args.indexOf(launcherPath);
    for (const jvmOption of ["-cp", "-Dloopback.exitOnStdinEof=true"]) expect(args.indexOf(jvmOption)).toBeLessThan(source);
    expect(args.findIndex((arg) => arg.startsWith("-Djava.library.path="))).toBeLessThan(source);
    for (const serverOption of ["-port", "-sharedDb", "-disableTelemetry", "-inMemory"]) {
      expect(args.indexOf(serverOption)).toBeGreaterThan(source);
    }
  });

  it("accepts another java binary", () => {
    expect(dynamoDbLocalCommand({ port: 1, distDir, launcherPath, java: "/usr/lib/jvm/17/bin/java" }).command).toBe(
      "/usr/lib/jvm/17/bin/java",
    );
  });

  it("defaults point at files that exist", () => {
    expect(existsSync(DEFAULT_LAUNCHER_PATH)).toBe(true);
    const dist = dynamoDbLocalDistDir();
    expect(existsSync(path.join(dist, "DynamoDBLocal.jar"))).toBe(true);
    expect(existsSync(path.join(dist, "DynamoDBLocal_lib"))).toBe(true);
  });
});
