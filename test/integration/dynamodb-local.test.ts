import { mkdtemp, readFile, readdir, readlink, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CreateTableCommand, DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { startDynamoDbLocal, type DynamoDbLocal } from "../../local/dynamodb-local.js";

const TIMEOUT = 60_000;
const started: DynamoDbLocal[] = [];
const tempDirs: string[] = [];
const clients: DynamoDBClient[] = [];

afterAll(async () => {
  for (const client of clients) client.destroy();
  await Promise.all(started.map((db) => db.stop()));
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
}, TIMEOUT);

async function start(dataDir?: string): Promise<DynamoDbLocal> {
  const db = await startDynamoDbLocal({ dataDir });
  started.push(db);
  return db;
}

function client(endpoint: string, region = "us-east-1", accessKeyId = "test"): DynamoDBClient {
  const c = new DynamoDBClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey: "test" } });
  clients.push(c);
  return c;
}

/** Resolves to whether a TCP connection to host:port was accepted. */
function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2_000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** This machine's non-loopback addresses, with a zone for link-local IPv6. */
function externalAddresses(): string[] {
  return Object.entries(os.networkInterfaces()).flatMap(([name, infos]) =>
    (infos ?? [])
      .filter((info) => !info.internal)
      .map((info) => (info.family === "IPv6" && info.address.startsWith("fe80:") ? `${info.address}%${name}` : info.address)),
  );
}

interface ListeningSocket {
  address: string;
  inode: string;
}

/** Listening TCP sockets on a port, from /proc/net/tcp{,6}: works without ss or any interface. */
async function listeningSockets(port: number): Promise<ListeningSocket[]> {
  const sockets: ListeningSocket[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = (await readFile(file, "utf8")).trim().split("\n").slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      const [hexAddress, hexPort] = fields[1]!.split(":") as [string, string];
      const listen = fields[3] === "0A";
      if (listen && parseInt(hexPort, 16) === port) sockets.push({ address: decodeAddress(hexAddress), inode: fields[9]! });
    }
  }
  return sockets;
}

/** /proc prints addresses as 32-bit words in host byte order. */
function decodeAddress(hex: string): string {
  const bytes = Buffer.alloc(hex.length / 2);
  for (let i = 0; i < hex.length / 8; i++) {
    const word = parseInt(hex.slice(i * 8, i * 8 + 8), 16);
    if (os.endianness() === "LE") bytes.writeUInt32LE(word, i * 4);
    else bytes.writeUInt32BE(word, i * 4);
  }
  if (bytes.length === 4) return [...bytes].join(".");
  // An IPv6 socket bound to an IPv4 address shows it as ::ffff:a.b.c.d.
  const mapped = bytes.subarray(0, 12).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]));
  if (mapped) return [...bytes.subarray(12)].join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(":");
}

async function socketInodes(pid: number): Promise<Set<string>> {
  const dir = `/proc/${pid}/fd`;
  const links = await Promise.all((await readdir(dir)).map((fd) => readlink(path.join(dir, fd)).catch(() => "")));
  return new Set(links.map((link) => /^socket:\[(\d+)\]$/.exec(link)?.[1]).filter((inode) => inode !== undefined));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** Any process still running the launcher on this port (covers a forked or re-spawned JVM). */
async function launchersOnPort(port: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const args = cmdline.split("\0");
    const portIndex = args.indexOf("-port");
    if (cmdline.includes("LoopbackLauncher") && portIndex >= 0 && args[portIndex + 1] === String(port)) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

async function expectStoppedCleanly(db: DynamoDbLocal): Promise<void> {
  await db.stop();
  await db.stop(); // idempotent
  expect(isAlive(db.pid)).toBe(false);
  expect(await launchersOnPort(db.port)).toEqual([]);
  expect(await canConnect("127.0.0.1", db.port)).toBe(false);
}

describe("startDynamoDbLocal", () => {
  it(
    "in memory: answers on 127.0.0.1 and listens on no other address",
    async () => {
      const db = await start();
      expect(db.endpoint).toBe(`http://127.0.0.1:${db.port}`);
      const tables = await client(db.endpoint).send(new ListTablesCommand({}));
      expect(tables.TableNames).toEqual([]);

      // Every listening socket on the port is bound to 127.0.0.1 and belongs to the Java child.
      const sockets = await listeningSockets(db.port);
      expect(sockets.length).toBeGreaterThan(0);
      expect(sockets.map((s) => s.address)).toEqual(sockets.map(() => "127.0.0.1"));
      const inodes = await socketInodes(db.pid);
      for (const socket of sockets) expect(inodes.has(socket.inode)).toBe(true);

      // Connecting through the machine's other addresses is refused. A control server on all
      // interfaces shows each address is reachable, so the refusal is the binding, not the network.
      const control = net.createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => control.listen(0, "::", resolve));
      const controlPort = (control.address() as net.AddressInfo).port;
      try {
        for (const address of externalAddresses()) {
          if (!(await canConnect(address, controlPort))) continue;
          expect(await canConnect(address, db.port), `connect to ${address}:${db.port}`).toBe(false);
        }
      } finally {
        control.close();
      }

      await expectStoppedCleanly(db);
    },
    TIMEOUT,
  );

  it(
    "with a dataDir: keeps tables across restarts, shared by every region and access key",
    async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "ddb-local-test-"));
      tempDirs.push(dataDir);
      const tableName = "persisted";

      const first = await start(path.join(dataDir, "nested"));
      const writer = client(first.endpoint);
      await writer.send(
        new CreateTableCommand({
          TableName: tableName,
          AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
          KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
      await writer.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: "a" }, v: { N: "42" } } }));
      expect((await listeningSockets(first.port)).map((s) => s.address)).toEqual(["127.0.0.1"]);
      await expectStoppedCleanly(first);

      const second = await start(path.join(dataDir, "nested"));
      // DynamoDB Local only accepts access key ids made of letters and digits.
      const reader = client(second.endpoint, "eu-west-1", "someoneElse2");
      expect((await reader.send(new ListTablesCommand({}))).TableNames).toEqual([tableName]);
      const item = await reader.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: "a" } } }));
      expect(item.Item?.v).toEqual({ N: "42" });
      await expectStoppedCleanly(second);
    },
    TIMEOUT,
  );
});
