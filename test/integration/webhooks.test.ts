import { spawn } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createDynamoClient } from "../../lambdas/composition.js";
import { createStreamConsumer } from "../../lambdas/handlers/stream-consumer.js";
import { localObservability } from "../../lambdas/observability.js";
import { LOCAL_TABLE } from "../../local/stack.js";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/** Backoff, sweeps and polls in tens of milliseconds, so that retries happen within the test. */
const ENV = {
  MREG_WEBHOOK_BACKOFF_MS: "100",
  MREG_WEBHOOK_SWEEP_MS: "50",
  MREG_STREAM_POLL_MS: "50",
  MREG_WEBHOOK_MAX_ATTEMPTS: "3",
  MREG_WEBHOOK_TIMEOUT_MS: "2000",
};
const SECRET = "a-webhook-secret-of-some-length";
const REG = "/v1/registries/model";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A webhook receiver on 127.0.0.1 that answers each path with a scripted sequence of statuses (the last repeats). */
class Receiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, number[]>();
  private server?: Server;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const path = req.url ?? "/";
        this.received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
        const script = this.scripts.get(path) ?? [200];
        const status = script.length > 1 ? script.shift()! : script[0]!;
        res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "nope");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  script(path: string, statuses: number[]): void {
    this.scripts.set(path, [...statuses]);
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** How the README tells receivers to check a delivery. */
function verifies(headers: IncomingHttpHeaders, body: string, secret: string): boolean {
  const timestamp = String(headers["x-mreg-timestamp"]);
  const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
  const given = String(headers["x-mreg-signature"] ?? "");
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

let s: TestStack;
let receiver: Receiver;

async function logVersion(project: string, artifact: string, content: string, extra: Record<string, unknown> = {}) {
  const file = fileSpec("weights.bin", content);
  const declared = [{ path: file.path, size: file.size, sha256: file.sha256 }];
  const plan = await s.api("POST", `/v1/projects/${project}/artifacts/${artifact}/uploads`, { files: declared });
  await uploadPlanned(plan.body, new Map([[file.sha256, file.bytes]]));
  const commit = await s.api("POST", `/v1/projects/${project}/artifacts/${artifact}/versions`, {
    type: "model",
    files: declared,
    ...extra,
  });
  expect(commit.status, JSON.stringify(commit.body)).toBe(201);
  return commit.body as { version: string };
}

async function automation(body: Record<string, unknown>): Promise<{ id: string }> {
  const created = await s.api("POST", `${REG}/automations`, body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

const deliveries = async (id: string) => (await s.api("GET", `${REG}/automations/${id}/deliveries`)).body.items as any[];

beforeAll(async () => {
  [s, receiver] = await Promise.all([startTestStack({ env: ENV }), new Receiver().start()]);
  // The default `model` registry (organization-visible).
  expect((await s.api("GET", "/v1/registries/model")).body).toMatchObject({ visibility: "organization" });
});
afterAll(async () => {
  await Promise.all([s?.stop(), receiver?.stop()]);
});

describe("automations", () => {
  test("are created with a validated target, listed without their secret, and deleted", async () => {
    const created = await automation({ name: "ci", event: "LINK_ARTIFACT", url: receiver.url("/unused"), secret: SECRET });
    const got = await s.api("GET", `${REG}/automations/${created.id}`);
    expect(got.body).toMatchObject({ name: "ci", event: "LINK_ARTIFACT", hasSecret: true, collection: null });
    expect(JSON.stringify(got.body)).not.toContain(SECRET);
    expect(JSON.stringify((await s.api("GET", `${REG}/automations`)).body)).not.toContain(SECRET);
    expect((await s.api("DELETE", `${REG}/automations/${created.id}`)).status).toBe(200);
    expect((await s.api("GET", `${REG}/automations/${created.id}`)).status).toBe(404);

    const refused = async (url: string) => {
      const answer = await s.api("POST", `${REG}/automations`, { name: "x", event: "LINK_ARTIFACT", url });
      expect(answer.status, url).toBe(400);
      return answer.body.error.message as string;
    };
    expect(await refused("http://169.254.169.254/latest/meta-data")).toContain("link-local");
    expect(await refused("http://10.1.2.3/hook")).toContain("private");
    expect(await refused("http://[fd00:ec2::254]/")).toContain("private");
    expect(await refused("ftp://example.com/")).toContain("http");
    expect(await refused("http://user:pw@127.0.0.1/")).toContain("credentials");
    const badTemplate = await s.api("POST", `${REG}/automations`, {
      name: "x",
      event: "LINK_ARTIFACT",
      url: receiver.url("/x"),
      payloadTemplate: '{"who": ${event_author}}',
    });
    expect(badTemplate.status).toBe(400);
    for (const aliasPattern of ["(a+", "(?=prod)prod", "(p)\\1"]) {
      const badPattern = await s.api("POST", `${REG}/automations`, {
        name: "x",
        event: "ADD_ARTIFACT_ALIAS",
        aliasPattern,
        url: receiver.url("/x"),
      });
      expect(badPattern.status, aliasPattern).toBe(400);
      expect(badPattern.body.error.message).toContain("RE2");
    }
  });
});

describe("alias patterns", () => {
  test("that backtrack exponentially elsewhere are matched in linear time: the registry stays responsive and fires exactly the matches", async () => {
    const hook = await automation({
      name: "a-or-a",
      event: "ADD_ARTIFACT_ALIAS",
      collection: "redos",
      aliasPattern: "(a|a)+",
      url: receiver.url("/redos"),
    });
    await logVersion("train", "redos-net", "redos weights");
    await s.api("POST", `${REG}/collections/redos/links`, { project: "train", artifact: "redos-net", version: "v0" });
    // Each of these would take a backtracking engine about 2^60 steps or more to refuse.
    const aliases = [...Array.from({ length: 8 }, (_, i) => `${"a".repeat(60 + i)}b`), "a".repeat(100)];
    for (const alias of aliases) {
      const set = await s.api("PUT", `${REG}/collections/redos/aliases/${alias}`, { version: "v0" });
      expect(set.status).toBe(200);
    }
    const [delivery] = await eventually(async () => {
      const items = await deliveries(hook.id);
      return items.length > 0 && items[0]?.status === "delivered" ? items : undefined;
    });
    expect(delivery.event.alias).toBe("a".repeat(100));
    expect((await s.api("GET", "/v1/health")).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await deliveries(hook.id)).toHaveLength(1);
  });
});

describe("an explicit MREG_WEBHOOK_ALLOW_LOOPBACK=false", () => {
  test("wins over local mode's default: loopback targets are refused", async () => {
    const strict = await startTestStack({ env: { ...ENV, MREG_WEBHOOK_ALLOW_LOOPBACK: "false" } });
    try {
      expect(strict.stack.config.webhookAllowLoopback).toBe(false);
      const answer = await strict.api("POST", `${REG}/automations`, { name: "x", event: "LINK_ARTIFACT", url: receiver.url("/x") });
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toContain("loopback");
    } finally {
      await strict.stop();
    }
  });
});

describe("deliveries", () => {
  test("a link gives exactly one delivery whose signature verifies, even when the stream hands the event over again", async () => {
    const hook = await automation({
      name: "on-link",
      event: "LINK_ARTIFACT",
      collection: "signed",
      url: receiver.url("/link"),
      secret: SECRET,
    });
    await logVersion("train", "signed-net", "signed weights", { metadata: { accuracy: 0.91 } });
    const linkedAt = Date.now();
    const linked = await s.api("POST", `${REG}/collections/signed/links`, { project: "train", artifact: "signed-net", version: "v0" });
    expect(linked.status).toBe(201);

    const [request] = await eventually(() => (receiver.at("/link").length > 0 ? receiver.at("/link") : undefined));
    console.log(`delivery latency (link request → receipt, local mode): ${request!.at - linkedAt} ms`);
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(request!.headers["x-mreg-event"]).toBe("LINK_ARTIFACT");
    expect(Math.abs(Number(request!.headers["x-mreg-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    expect(verifies(request!.headers, request!.body, SECRET)).toBe(true);
    expect(verifies(request!.headers, request!.body, "another secret entirely")).toBe(false);
    expect(JSON.parse(request!.body)).toMatchObject({
      event_type: "LINK_ARTIFACT",
      event_author: "admin",
      registry: "model",
      collection: "signed",
      version: "v0",
      artifact_version_string: "@model/signed:v0",
      aliases: ["latest"],
      type: "model",
      source: { project: "train", artifact: "signed-net", version: "v0" },
      metadata: { accuracy: 0.91 },
      automation: { id: hook.id, name: "on-link" },
    });

    const [delivery] = await eventually(async () => {
      const items = await deliveries(hook.id);
      return items.length === 1 && items[0].status === "delivered" ? items : undefined;
    });
    expect(delivery.id).toBe(request!.headers["x-mreg-delivery"]);
    expect(delivery.attempts).toEqual([
      { attempt: 1, at: expect.any(String), latencyMs: expect.any(Number), statusCode: 200, outcome: "delivered" },
    ]);

    // The stream hands the same record over again (a retried batch): no second delivery.
    const history = await DynamoDBDocumentClient.from(createDynamoClient(s.stack.config)).send(
      new QueryCommand({
        TableName: LOCAL_TABLE,
        KeyConditionExpression: "PK = :pk",
        ExpressionAttributeValues: { ":pk": "HIST#COL#model#signed" },
      }),
    );
    const linkEvent = history.Items!.find((item) => item.event.action === "link.created")!;
    const again = await createStreamConsumer(
      s.stack.services,
      localObservability({ logLevel: "silent" }),
    )({
      Records: [
        {
          eventID: "redelivered",
          eventName: "INSERT",
          dynamodb: { NewImage: marshall(linkEvent) as never, SequenceNumber: "1", StreamViewType: "NEW_AND_OLD_IMAGES" },
        },
      ],
    });
    expect(again).toEqual({ batchItemFailures: [] });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.at("/link")).toHaveLength(1);
    expect(await deliveries(hook.id)).toHaveLength(1);
  });

  test("the alias pattern and the collection filter choose which alias events fire", async () => {
    const hook = await automation({
      name: "promotions",
      event: "ADD_ARTIFACT_ALIAS",
      collection: "promoted",
      aliasPattern: "prod.*",
      url: receiver.url("/alias"),
    });
    await logVersion("train", "promoted-net", "promoted weights");
    await s.api("POST", `${REG}/collections/promoted/links`, {
      project: "train",
      artifact: "promoted-net",
      version: "v0",
      aliases: ["staging"],
    });
    await s.api("PUT", `${REG}/collections/promoted/aliases/preprod`, { version: "v0" });
    await s.api("PUT", `${REG}/collections/promoted/aliases/production`, { version: "v0" });
    // Another collection: the filter keeps it out.
    await s.api("POST", `${REG}/collections/elsewhere/links`, {
      project: "train",
      artifact: "promoted-net",
      version: "v0",
      aliases: ["production"],
    });

    await eventually(() => (receiver.at("/alias").length > 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const received = receiver.at("/alias").map((r) => JSON.parse(r.body));
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ event_type: "ADD_ARTIFACT_ALIAS", alias: "production", collection: "promoted", version: "v0" });
    // No secret: the delivery is not signed.
    expect(receiver.at("/alias")[0]!.headers["x-mreg-signature"]).toBeUndefined();
    expect((await deliveries(hook.id)).map((d) => d.event.alias)).toEqual(["production"]);
  });

  test("a receiver answering 500 twice then 200 gets the delivery on the third attempt, all three in the log", async () => {
    receiver.script("/flaky", [500, 500, 200]);
    const hook = await automation({
      name: "flaky",
      event: "LINK_ARTIFACT",
      collection: "flaky",
      url: receiver.url("/flaky"),
      secret: SECRET,
    });
    await logVersion("train", "flaky-net", "flaky weights");
    await s.api("POST", `${REG}/collections/flaky/links`, { project: "train", artifact: "flaky-net", version: "v0" });

    const [delivery] = await eventually(async () => {
      const items = await deliveries(hook.id);
      return items[0]?.status === "delivered" ? items : undefined;
    });
    expect(delivery.attempts.map((a: any) => [a.attempt, a.statusCode, a.outcome])).toEqual([
      [1, 500, "retry"],
      [2, 500, "retry"],
      [3, 200, "delivered"],
    ]);
    const requests = receiver.at("/flaky");
    expect(requests).toHaveLength(3);
    // The same delivery and body each time, signed afresh.
    expect(new Set(requests.map((r) => r.headers["x-mreg-delivery"])).size).toBe(1);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    expect(requests.every((r) => verifies(r.headers, r.body, SECRET))).toBe(true);
    // Backed off: the second retry waited about twice as long as the first.
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(90);
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(180);
  });

  test("a receiver that is down exhausts the delivery; a replay once it is up delivers it", async () => {
    const down = await new Receiver().start();
    const port = down.port;
    await down.stop();
    const hook = await automation({ name: "down", event: "LINK_ARTIFACT", collection: "down", url: `http://127.0.0.1:${port}/down` });
    await logVersion("train", "down-net", "down weights");
    await s.api("POST", `${REG}/collections/down/links`, { project: "train", artifact: "down-net", version: "v0" });

    const [failed] = await eventually(async () => {
      const items = await deliveries(hook.id);
      return items[0]?.status === "failed" ? items : undefined;
    });
    expect(failed.attemptCount).toBe(3);
    expect(failed.attempts.map((a: any) => a.outcome)).toEqual(["retry", "retry", "failed"]);
    expect(failed.attempts[0].error).toMatch(/^network: ECONNREFUSED/);
    expect(failed.error).toMatch(/ECONNREFUSED/);
    expect((await s.api("GET", `${REG}/automations/${hook.id}/deliveries/${failed.id}`)).body.payload).toMatchObject({
      event_type: "LINK_ARTIFACT",
      collection: "down",
    });

    const up = await new Receiver().start(port);
    try {
      const replayed = await s.api("POST", `${REG}/automations/${hook.id}/deliveries/${failed.id}/replay`);
      expect(replayed.status).toBe(200);
      expect(replayed.body).toMatchObject({ id: failed.id, status: "delivered", attemptCount: 4 });
      expect(replayed.body.attempts.at(-1)).toMatchObject({ attempt: 4, statusCode: 200, outcome: "delivered" });
      expect(up.at("/down")).toHaveLength(1);
      expect(up.at("/down")[0]!.headers["x-mreg-delivery"]).toBe(failed.id);
    } finally {
      await up.stop();
    }
  });

  test("a payload template renders event fields and metadata keys, JSON-escaped", async () => {
    const template = {
      text: "${event_author} linked ${artifact_version_string} (${artifact_collection_name} ${artifact_version}) from ${project_name}",
      accuracy: "${artifact_metadata.accuracy}",
      note: "${artifact_metadata.note}",
      lr: "${artifact_metadata.train.lr}",
      missing: "${artifact_metadata.nothing}",
      type: "${event_type}",
    };
    await automation({
      name: "templated",
      event: "LINK_ARTIFACT",
      collection: "templated",
      url: receiver.url("/template"),
      payloadTemplate: template,
    });
    await logVersion("train", "templated-net", "templated weights", {
      metadata: { accuracy: 0.97, note: 'said "ok"\nthen left', train: { lr: 0.001 } },
    });
    await s.api("POST", `${REG}/collections/templated/links`, { project: "train", artifact: "templated-net", version: "v0" });
    const [request] = await eventually(() => (receiver.at("/template").length > 0 ? receiver.at("/template") : undefined));
    expect(JSON.parse(request!.body)).toEqual({
      text: "admin linked @model/templated:v0 (templated v0) from train",
      accuracy: "0.97",
      note: 'said "ok"\nthen left',
      lr: "0.001",
      missing: "",
      type: "LINK_ARTIFACT",
    });
  });
});

describe("the README's receiver", () => {
  test("verifies a real delivery and refuses a forged one", async () => {
    const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
    const code = /<!-- webhook-receiver:start -->\s*```js\n([\s\S]*?)```\s*<!-- webhook-receiver:end -->/.exec(readme)?.[1];
    expect(code).toBeDefined();
    const file = join(s.dataDir, "receiver.mjs");
    await writeFile(file, code!);
    const free = await new Receiver().start();
    const port = free.port;
    await free.stop();
    const child = spawn(process.execPath, [file], {
      env: { PATH: process.env.PATH ?? "", PORT: String(port), MREG_WEBHOOK_SECRET: SECRET },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    try {
      const url = `http://127.0.0.1:${port}/`;
      await eventually(() =>
        fetch(url, { method: "POST", body: "{}" }).then(
          (r) => r.status,
          () => undefined,
        ),
      );
      const forged = await fetch(url, {
        method: "POST",
        body: "{}",
        headers: { "x-mreg-timestamp": String(Math.floor(Date.now() / 1000)), "x-mreg-signature": `sha256=${"0".repeat(64)}` },
      });
      expect(forged.status).toBe(401);

      await automation({ name: "readme", event: "LINK_ARTIFACT", collection: "readme", url, secret: SECRET });
      await logVersion("train", "readme-net", "readme weights");
      await s.api("POST", `${REG}/collections/readme/links`, { project: "train", artifact: "readme-net", version: "v0" });
      await eventually(() => (output.includes("verified") ? true : undefined));
      expect(output).toMatch(/^verified [0-9A-Z]{26}: LINK_ARTIFACT @model\/readme:v0\n$/);
    } finally {
      child.kill();
    }
  });
});

describe("lineage", () => {
  test("a run with two inputs and one output, from every side", async () => {
    await logVersion("train", "dataset-a", "rows a");
    await logVersion("train", "dataset-b", "rows b");
    const run = await s.api("POST", "/v1/projects/train/runs", { id: "run-7", name: "fit", config: { lr: 0.01 } });
    expect(run.status).toBe(201);
    expect(run.body).toMatchObject({ id: "run-7", name: "fit", config: { lr: 0.01 } });
    for (const artifact of ["dataset-a", "dataset-b"]) {
      const input = await s.api("POST", "/v1/projects/train/runs/run-7/inputs", { artifact, version: "latest" });
      expect(input.status).toBe(200);
      expect(input.body.input).toMatchObject({ artifact, version: "v0" });
    }
    await logVersion("train", "fitted", "fitted weights", { runId: "run-7" });

    const up = await s.api("GET", "/v1/projects/train/artifacts/fitted/versions/v0/lineage?direction=up&depth=2");
    expect(up.status).toBe(200);
    expect(up.body.root).toBe("version:train/fitted:v0");
    expect(up.body.nodes.map((n: any) => [n.id, n.kind]).sort()).toEqual(
      [
        ["run:train/run-7", "run"],
        ["version:train/dataset-a:v0", "version"],
        ["version:train/dataset-b:v0", "version"],
        ["version:train/fitted:v0", "version"],
      ].sort(),
    );
    expect(up.body.edges).toEqual(
      expect.arrayContaining([
        { from: "run:train/run-7", to: "version:train/fitted:v0", kind: "output" },
        { from: "version:train/dataset-a:v0", to: "run:train/run-7", kind: "input" },
        { from: "version:train/dataset-b:v0", to: "run:train/run-7", kind: "input" },
      ]),
    );
    expect(up.body.edges).toHaveLength(3);
    expect(up.body.nodes.find((n: any) => n.kind === "run")).toMatchObject({ name: "fit", createdBy: "admin" });

    // Downwards from an input: the run that used it and what the run produced.
    const down = await s.api("GET", "/v1/projects/train/artifacts/dataset-a/versions/latest/lineage?direction=down");
    expect(down.body.nodes.map((n: any) => n.id).sort()).toEqual([
      "run:train/run-7",
      "version:train/dataset-a:v0",
      "version:train/fitted:v0",
    ]);

    // The run's own view, and the same lineage through a collection version.
    const ofRun = await s.api("GET", "/v1/projects/train/runs/run-7/lineage?depth=1");
    expect(ofRun.body.edges).toHaveLength(3);
    await s.api("POST", `${REG}/collections/fitted/links`, { project: "train", artifact: "fitted", version: "v0" });
    const viaCollection = await s.api("GET", `${REG}/collections/fitted/versions/latest/lineage?direction=up&depth=2`);
    expect(viaCollection.status).toBe(200);
    expect(viaCollection.body).toMatchObject({
      root: "version:train/fitted:v0",
      link: { registry: "model", collection: "fitted", version: "v0" },
    });
    expect(viaCollection.body.edges).toHaveLength(3);
  });

  test("a commit naming an unknown run creates the run; an input to a missing version is a 404", async () => {
    await logVersion("train", "orphan", "orphan weights", { runId: "ad-hoc-run" });
    expect((await s.api("GET", "/v1/projects/train/runs/ad-hoc-run")).body).toMatchObject({
      id: "ad-hoc-run",
      name: null,
      createdBy: "admin",
    });
    expect((await s.api("POST", "/v1/projects/train/runs/ad-hoc-run/inputs", { artifact: "orphan", version: "v9" })).status).toBe(404);
    expect((await s.api("GET", "/v1/projects/train/runs/never-seen")).status).toBe(404);
  });

  test("wide fan-out is paged per node through its `more` cursor", async () => {
    await logVersion("train", "shared-data", "shared rows");
    for (let i = 0; i < 5; i++) {
      expect((await s.api("POST", `/v1/projects/train/runs/fan-${i}/inputs`, { artifact: "shared-data", version: "v0" })).status).toBe(200);
    }
    const path = "/v1/projects/train/artifacts/shared-data/versions/v0/lineage?direction=down&depth=1&fanOut=2";
    const seen = new Set<string>();
    let answer = await s.api("GET", path);
    for (let pages = 1; ; pages++) {
      expect(answer.status).toBe(200);
      for (const node of answer.body.nodes) if (node.kind === "run") seen.add(node.run);
      const more = answer.body.nodes.find((n: any) => n.id === answer.body.root).more?.down;
      if (!more) {
        expect(pages).toBe(3);
        break;
      }
      expect(answer.body.truncated).toBe(true);
      answer = await s.api("GET", `${path}&cursor=${more}`);
    }
    expect([...seen].sort()).toEqual(["fan-0", "fan-1", "fan-2", "fan-3", "fan-4"]);
  });
});
