import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, seriousAccessibilityViolations } from "../support/browser.js";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

/**
 * The web app in a real browser (Debian's Chromium driven by playwright-core) against an
 * embedded registry serving the built app (web/dist) on the API's origin.
 */
const OUTPUT = join(import.meta.dirname, "../../test-output/web");
const SCREENSHOTS = join(OUTPUT, "screenshots");
// The README's pictures; refreshed from a run with MREG_UPDATE_SCREENSHOTS=1.
const COMMITTED = join(import.meta.dirname, "../../docs/screenshots");
const BIG_COLLECTION_VERSIONS = Number(process.env.MREG_E2E_BIG_VERSIONS ?? 1000);

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let receiver: Server;
let receiverUrl: string;
const received: { headers: Record<string, unknown>; body: string }[] = [];
const keys: Record<string, string> = {};
const consoleErrors: { step: string; text: string }[] = [];
let step = "start";
/** Steps where the API answers a refusal on purpose (Chromium logs each failed request). */
const expectedRefusals = new Map<string, RegExp>([
  ["sign-in", /status of 401/],
  ["protected", /status of 403/],
  ["forbidden", /status of 403/],
]);
const bytesByPath = new Map<string, Buffer>();
const measurements: Record<string, unknown> = {};

async function api<T = any>(method: string, path: string, body?: unknown, key = stack.adminKey): Promise<T> {
  const { status, body: answer } = await stack.api<T>(method, path, body, key);
  if (status >= 300) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(answer)}`);
  return answer;
}

/** Logs a version through the HTTP API as any client would: plan, PUT the missing blobs, commit. */
async function logVersion(
  project: string,
  artifact: string,
  type: string,
  files: { path: string; content: string | Buffer }[],
  extra: { metadata?: Record<string, unknown>; runId?: string; aliases?: string[]; upload?: boolean } = {},
): Promise<string> {
  const specs = files.map((f) => fileSpec(f.path, f.content));
  if (extra.upload !== false) {
    const plan = await api("POST", `/v1/projects/${project}/artifacts/${artifact}/uploads`, {
      files: specs.map(({ path, size, sha256 }) => ({ path, size, sha256 })),
    });
    await uploadPlanned(plan, new Map(specs.map((s) => [s.sha256, s.bytes])));
  }
  const commit = await api("POST", `/v1/projects/${project}/artifacts/${artifact}/versions`, {
    type,
    files: specs.map(({ path, size, sha256 }) => ({ path, size, sha256 })),
    ...(extra.metadata ? { metadata: extra.metadata } : {}),
    ...(extra.runId ? { runId: extra.runId } : {}),
    ...(extra.aliases ? { aliases: extra.aliases } : {}),
  });
  return commit.version as string;
}

async function seed(): Promise<void> {
  const started = Date.now();
  await api("POST", "/v1/users", { name: "ana", role: "member" });
  await api("POST", "/v1/users", { name: "vic", role: "viewer" });
  keys.ana = (await api("POST", "/v1/api-keys", { user: "ana" })).key;
  keys.vic = (await api("POST", "/v1/api-keys", { user: "vic" })).key;
  // ola: a second admin of the release registry (approves promotions); dan: deactivated by an admin.
  for (const name of ["ola", "dan"]) {
    await api("POST", "/v1/users", { name, role: "member" });
    keys[name] = (await api("POST", "/v1/api-keys", { user: name })).key;
  }
  // `model` is one of the registries every organization starts with: models only, `production` protected.
  await api("PUT", "/v1/registries/model/members/ana", { role: "member" });

  // A dataset, a training run that used it and produced three checkpoints.
  await logVersion("vision", "mnist-data", "dataset", [{ path: "train.csv", content: "x,y\n1,2\n3,4\n" }]);
  await api("POST", "/v1/projects/vision/runs", { id: "train-42", name: "fit mnist", config: { lr: 0.01, epochs: 10 } });
  await api("POST", "/v1/projects/vision/runs/train-42/inputs", { artifact: "mnist-data", version: "v0" });
  const checkpoints = [
    { weights: "weights epoch 1", accuracy: 0.91, loss: 0.31 },
    { weights: "weights epoch 5", accuracy: 0.962, loss: 0.14 },
    { weights: "weights epoch 10", accuracy: 0.987, loss: 0.05 },
  ];
  for (const [i, c] of checkpoints.entries()) {
    const files = [
      { path: "model.bin", content: c.weights },
      { path: "config.json", content: '{"layers": 4}' },
      ...(i === 2 ? [{ path: "tokenizer/vocab.txt", content: "a b c" }] : []),
    ];
    for (const f of files) bytesByPath.set(`v${i}/${f.path}`, Buffer.from(f.content));
    await logVersion("vision", "mnist-cnn", "model", files, {
      metadata: { accuracy: c.accuracy, loss: c.loss, train: { epochs: [1, 5, 10][i], optimizer: "adam" } },
      runId: "train-42",
    });
  }
  // Downstream: an evaluation run used v1 and produced a report.
  await api("POST", "/v1/projects/vision/runs", { id: "eval-7", name: "evaluate on test set" });
  await api("POST", "/v1/projects/vision/runs/eval-7/inputs", { artifact: "mnist-cnn", version: "v1" });
  await logVersion("vision", "mnist-eval", "evaluation", [{ path: "report.json", content: '{"accuracy": 0.961}' }], {
    metadata: { accuracy: 0.961 },
    runId: "eval-7",
  });
  // A version not linked yet: the browser links it.
  await logVersion("vision", "mnist-cnn", "model", [{ path: "model.bin", content: "weights epoch 12" }], { metadata: { accuracy: 0.99 } });
  for (const v of ["v0", "v1", "v2"]) {
    await api("POST", "/v1/registries/model/collections/mnist-classifier/links", {
      project: "vision",
      artifact: "mnist-cnn",
      version: v,
      ...(v === "v0" ? { aliases: ["production"] } : {}),
      ...(v === "v0"
        ? {
            description:
              "# MNIST classifier\n\nHandwritten digits, **28×28** grey images.\n\n- trained by `train-42`\n- <script>window.injected = 1</script>safe",
          }
        : {}),
    });
  }
  await api("PUT", "/v1/registries/model/collections/mnist-classifier/tags/vision", undefined);
  // A registry whose protected alias moves only with two approvals (set once production is placed).
  await api("POST", "/v1/registries", { name: "release", description: "Signed-off releases.", protectedAliases: ["production"] });
  await api("PUT", "/v1/registries/release/members/ana", { role: "member" });
  await api("PUT", "/v1/registries/release/members/ola", { role: "admin" });
  for (const v of ["v1", "v2"]) {
    await api("POST", "/v1/registries/release/collections/mnist-release/links", {
      project: "vision",
      artifact: "mnist-cnn",
      version: v,
      ...(v === "v1" ? { aliases: ["production"] } : {}),
    });
  }
  await api("PATCH", "/v1/registries/release", { approvalsRequired: 2 });
  // Neighbours for the search to tell apart.
  for (const name of ["resnet50-imagenet", "bert-base-reviews", "vgg16-dogs", "whisper-small-ko", "llama-ja-chat"]) {
    await api("POST", "/v1/registries/model/collections", {
      name,
      type: "model",
      description: `The ${name} candidates.`,
      tags: ["baseline"],
    });
  }

  // A collection of 1 000 versions: one blob, 1 000 manifests (each a different path), each linked.
  // Commits to one artifact and links to one collection serialise on its counter: parallel
  // requests would only retry, so versions go to several artifacts at once, links one by one.
  const blob = "sweep weights";
  const streams = 8;
  await logVersion("sweep", "grid-0", "model", [{ path: "ckpt-0.bin", content: blob }], { metadata: { lr: 0 } });
  const sources: { artifact: string; version: string }[] = [];
  await Promise.all(
    [...Array(streams).keys()].map(async (stream) => {
      for (let i = stream; i < BIG_COLLECTION_VERSIONS; i += streams) {
        const artifact = `grid-${stream}`;
        const version = await logVersion("sweep", artifact, "model", [{ path: `ckpt-${i}.bin`, content: blob }], {
          metadata: { lr: i / 1000 },
          upload: false,
        });
        sources[i] = { artifact, version };
      }
    }),
  );
  measurements.seedCommitsMs = Date.now() - started;
  await api("POST", "/v1/registries/model/collections", { name: "big-sweep", type: "model", description: "A learning-rate sweep." });
  for (const source of sources) {
    await api("POST", "/v1/registries/model/collections/big-sweep/links", { project: "sweep", ...source });
  }
  measurements.seedMs = Date.now() - started;
}

async function screenshot(name: string): Promise<string> {
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

async function expectAccessible(name: string): Promise<void> {
  const violations = await seriousAccessibilityViolations(page);
  expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
}

async function signIn(key: string): Promise<void> {
  await page.goto(stack.url);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

async function signOut(): Promise<void> {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to mreg" }).waitFor();
}

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/mreg`;
  stack = await startTestStack();
  await seed();
  browser = await launchChromium();
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1360, height: 900 } });
  page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    if (expectedRefusals.get(step)?.test(text)) return;
    consoleErrors.push({ step, text });
  });
  page.on("pageerror", (error) => consoleErrors.push({ step, text: `uncaught: ${error.message}` }));
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  await writeFile(join(OUTPUT, "measurements.json"), JSON.stringify(measurements, null, 2));
  if (process.env.MREG_UPDATE_SCREENSHOTS === "1") {
    await mkdir(COMMITTED, { recursive: true });
    for (const name of ["collection", "lineage", "compare", "promotions"])
      await copyFile(join(SCREENSHOTS, `${name}.png`), join(COMMITTED, `${name}.png`));
  }
});

describe("the web app in Chromium", { timeout: 120_000 }, () => {
  it("serves the app on the API's origin and asks for a key", async () => {
    step = "sign-in";
    const response = await page.goto(stack.url);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    await page.getByRole("heading", { name: "Sign in to mreg" }).waitFor();
    await screenshot("sign-in");
    await expectAccessible("sign in");
    await page.getByLabel("API key").fill("mreg_not-a-real-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    // Chromium logs the 401 as a failed request: expected here, not an app error.
    await page.getByText("This key was not accepted.").waitFor();
  });

  it("signs in with a key kept in sessionStorage only, and shows who and which role", async () => {
    step = "home";
    await signIn(keys.ana!);
    expect(await page.getByTestId("who").textContent()).toBe("ana");
    await expect(page.locator(".who").textContent()).resolves.toContain("member");
    expect(page.url()).not.toContain(keys.ana!);
    expect(await page.evaluate(() => sessionStorage.getItem("mreg.apiKey"))).toBe(keys.ana);
    expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain(keys.ana!);
    const card = page.locator(".registry-card", { hasText: "model" });
    await card.getByText("Collections").waitFor();
    await expect.poll(() => card.locator("dd").nth(2).textContent()).toBe("7");
    // Members see no registry-creation form: that is for org admins.
    expect(await page.getByText("Create a registry").count()).toBe(0);
    await screenshot("registries-home");
    await expectAccessible("registries home");
  });

  it("finds a collection by name search and by tag", async () => {
    step = "search";
    await page.getByRole("link", { name: "model" }).first().click();
    await page.getByRole("list", { name: "Collections" }).waitFor();
    expect(await page.locator(".collection-card").count()).toBe(7);
    await page.getByLabel("Search collections by name or tag").fill("mnist");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.locator(".collection-card").count()).toBe(1);
    await page.locator(".collection-card").getByText("production").waitFor();
    await screenshot("registry-search");
    await expectAccessible("registry");
    await page.getByLabel("Search collections by name or tag").fill("tag:baseline");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.locator(".collection-card").count()).toBe(5);
    await page.getByLabel("Search collections by name or tag").fill("mnist");
    await page.getByLabel("Search collections by name or tag").press("Enter");
    await expect.poll(() => page.locator(".collection-card").count()).toBe(1);
    await page.getByRole("link", { name: "mnist-classifier" }).click();
    await page.getByRole("heading", { name: "mnist-classifier", level: 1 }).waitFor();
  });

  it("shows the collection: safe markdown, tags, versions with aliases and chosen metadata columns", async () => {
    step = "collection";
    await page.getByTestId("versions-table").waitFor();
    await page.getByRole("heading", { name: "MNIST classifier" }).waitFor();
    expect(await page.evaluate(() => (window as { injected?: number }).injected)).toBeUndefined();
    expect(await page.locator(".markdown script").count()).toBe(0);
    const rows = page.getByTestId("versions-table").locator("tbody tr");
    expect(await rows.count()).toBe(3);
    const picker = page.locator("summary", { hasText: "Metadata columns" });
    await picker.click();
    await page.getByLabel("accuracy", { exact: true }).check();
    await picker.click();
    await expect.poll(() => rows.first().textContent()).toContain("0.987");
    await screenshot("collection");
    await expectAccessible("collection");
  });

  it("compares two versions: metadata differences, a metric chart, the file diff", async () => {
    step = "compare";
    await page.getByLabel("Select v0 to compare").check();
    await page.getByLabel("Select v2 to compare").check();
    await page.getByRole("button", { name: "Compare selected (2)" }).click();
    const table = page.getByTestId("compare-metadata");
    await table.waitFor();
    await expect.poll(() => table.locator("tr.row-differs").count()).toBe(3);
    expect(await table.locator("tr", { hasText: "train.optimizer" }).getAttribute("class")).toBeNull();
    await page.getByTestId("chart-table").waitFor();
    expect(await page.getByTestId("chart-table").textContent()).toContain("highest: v2");
    await page.locator(".chart canvas").waitFor();
    expect(await page.getByTestId("diff-summary-v2").textContent()).toBe("1 added, 0 removed, 1 changed, 1 unchanged");
    await screenshot("compare");
    await expectAccessible("compare");
  });

  it("moves an alias as a member and sees the history update", async () => {
    step = "alias";
    await page.getByRole("link", { name: /^Versions/ }).click();
    await page.getByLabel("Alias", { exact: true }).fill("staging");
    await page.getByLabel("Version", { exact: true }).selectOption("v1");
    await page.getByRole("button", { name: "Move alias", exact: true }).click();
    await page.getByText("staging now names v1.").waitFor();
    await page.getByRole("link", { name: "History" }).click();
    const history = page.getByTestId("history");
    await history.waitFor();
    expect(await history.locator("li").first().textContent()).toContain("ana set staging on v1");
    await screenshot("history");
    await expectAccessible("history");
  });

  it("refuses a protected alias to a member, saying why", async () => {
    step = "protected";
    await page.getByRole("link", { name: /^Versions/ }).click();
    await page.getByLabel("Alias", { exact: true }).fill("production");
    expect(await page.getByRole("button", { name: "Move alias", exact: true }).isDisabled()).toBe(true);
    expect(await page.locator("#alias-reason").textContent()).toBe(
      "production is protected in registry model: only its admins may set or remove it.",
    );
    expect(await page.getByRole("button", { name: "Remove alias production" }).isDisabled()).toBe(true);
    // Were the request sent anyway, the registry refuses it too.
    const refused = await page.evaluate(async () => {
      const key = sessionStorage.getItem("mreg.apiKey");
      const response = await fetch("/v1/registries/model/collections/mnist-classifier/aliases/production", {
        method: "PUT",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ version: "v2" }),
      });
      return { status: response.status, body: await response.json() };
    });
    expect(refused.status).toBe(403);
  });

  it("edits the collection's description as a member and sees it rendered", async () => {
    step = "describe";
    await page.getByRole("button", { name: "Edit description" }).click();
    const field = page.getByLabel("Description (markdown)");
    const before = await field.inputValue();
    expect(before).toContain("# MNIST classifier");
    await field.fill(`${before}\n\nCalibrated on **held-out digits** <a href="javascript:window.injected=2">a trap</a>`);
    const preview = page.getByRole("region", { name: "Preview" });
    await preview.locator("strong", { hasText: "held-out digits" }).waitFor();
    await expectAccessible("description editor");
    await page.getByRole("button", { name: "Save description" }).click();
    await page.getByLabel("Description (markdown)").waitFor({ state: "detached" });
    const description = page.getByRole("region", { name: "Description" });
    await description.locator("strong", { hasText: "held-out digits" }).waitFor();
    expect(await page.getByLabel("Description (markdown)").count()).toBe(0);
    expect(await description.getByText("a trap").getAttribute("href")).toBeNull();
    expect(await page.evaluate(() => (window as { injected?: number }).injected)).toBeUndefined();
    const stored = await api("GET", "/v1/registries/model/collections/mnist-classifier", undefined, keys.ana);
    expect(stored.description).toContain("Calibrated on **held-out digits**");
    await page.getByRole("link", { name: "History" }).click();
    await page.getByTestId("history").waitFor();
    await page.getByRole("link", { name: /^Versions/ }).click();
    await page.getByTestId("versions-table").waitFor();
  });

  it("follows the lineage from a collection version to its run and the run's inputs", async () => {
    step = "lineage";
    await page.getByRole("link", { name: "v1", exact: true }).click();
    await page.getByRole("heading", { name: "mnist-classifier:v1" }).waitFor();
    await page.getByRole("link", { name: "Lineage" }).click();
    const graph = page.getByTestId("lineage-graph");
    await graph.waitFor();
    const run = graph.getByRole("link", { name: /^fit mnist run/ });
    await run.waitFor();
    expect(await graph.getByRole("link", { name: /^mnist-data:v0 dataset/ }).count()).toBe(1);
    // Downstream too: the evaluation run that used v1 and the report it produced.
    expect(await graph.getByRole("link", { name: /^evaluate on test set run/ }).count()).toBe(1);
    expect(await graph.getByRole("link", { name: /^mnist-eval:v0 evaluation/ }).count()).toBe(1);
    await screenshot("lineage");
    await expectAccessible("lineage");
    // Keyboard: focus the run node and open it with Enter.
    await run.focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Run fit mnist" }).waitFor();
    const runGraph = page.getByTestId("lineage-graph");
    await runGraph.getByRole("link", { name: /^mnist-data:v0 dataset/ }).click();
    await page.getByRole("heading", { name: "mnist-data:v0" }).waitFor();
    await expectAccessible("artifact version");
  });

  it("lists projects with their artifact counts and opens one", async () => {
    step = "projects";
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" }).click();
    const table = page.getByTestId("projects-table");
    await table.waitFor();
    expect(await table.locator("tbody tr").count()).toBe(2);
    expect(await table.locator("tr", { hasText: "vision" }).locator("td").first().textContent()).toBe("3");
    expect(await table.locator("tr", { hasText: "sweep" }).locator("td").first().textContent()).toBe("8");
    await screenshot("projects");
    await expectAccessible("projects");
    await table.getByRole("link", { name: "vision" }).click();
    await page.getByRole("link", { name: "mnist-eval" }).waitFor();
    expect(await page.getByRole("heading", { name: "vision", level: 1 }).count()).toBe(1);
  });

  it("downloads a file straight from the store, byte for byte", async () => {
    step = "download";
    await page.goto(`${stack.url}/registries/model/collections/mnist-classifier/versions/v2`);
    await page.getByTestId("files-table").waitFor();
    // The link's source version names the run that produced it.
    await page.getByRole("link", { name: "run train-42" }).waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download model.bin" }).click()]);
    expect(download.suggestedFilename()).toBe("model.bin");
    expect(download.url()).not.toContain(stack.url);
    const bytes = await readFile((await download.path())!);
    expect(bytes.equals(bytesByPath.get("v2/model.bin")!)).toBe(true);
    await screenshot("collection-version");
    await expectAccessible("collection version");
  });

  it("shows a member a clear message for an admin-only page", async () => {
    step = "forbidden";
    await page.goto(`${stack.url}/registries/model/automations`);
    await page.getByText("You do not have access to this").waitFor();
    expect(await page.getByRole("alert").textContent()).toContain("needs admin");
  });

  it("moves a protected alias through a promotion a member asks for and two other admins approve", async () => {
    step = "promotion";
    await page.goto(`${stack.url}/registries/release/collections/mnist-release`);
    await page.getByRole("heading", { name: "Promotions" }).waitFor();
    // Nobody moves production directly here: the panel says where to go instead.
    await page.getByLabel("Alias", { exact: true }).fill("production");
    expect(await page.getByRole("button", { name: "Move alias", exact: true }).isDisabled()).toBe(true);
    expect(await page.locator("#alias-reason").textContent()).toContain("moves only through a promotion approved by 2 admins");
    await page.getByLabel("to version").selectOption("v1");
    await page.getByLabel("Note").fill("+1.2% on the holdout");
    await page.getByRole("button", { name: "Request promotion" }).click();
    await page.getByText("Requested: production → v1, waiting for approvals.").waitFor();
    const request = page.getByTestId("promotion");
    await expect.poll(() => request.getByTestId("approvals").textContent()).toBe("0 of 2 approvals");
    expect(await request.getByRole("button", { name: /^Approve/ }).count()).toBe(0);
    await screenshot("promotions");
    await expectAccessible("promotions");

    for (const [key, result] of [
      [stack.adminKey, "Approval recorded (1 of 2)."],
      [keys.ola!, "Approved: production now names v1."],
    ] as const) {
      await signOut();
      await signIn(key);
      expect(await page.getByTestId("who").textContent()).toBe((await api("GET", "/v1/me", undefined, key)).name);
      await page.goto(`${stack.url}/registries/release/collections/mnist-release`);
      const approve = page.getByRole("button", { name: "Approve production → v1" });
      await approve.waitFor();
      await approve.click();
      await page.getByText(result).waitFor();
    }
    await expect
      .poll(() => page.getByTestId("versions-table").locator("tr", { hasText: "production" }).locator("th").textContent())
      .toBe("v1");
    const collection = await api("GET", "/v1/registries/release/collections/mnist-release");
    expect(collection.aliases.production).toBe("v1");
    await page.getByLabel("Show", { exact: true }).selectOption("approved");
    await expect.poll(() => page.getByTestId("promotion").first().textContent()).toContain("Approved by admin, ola");
  });

  it("creates an automation as an admin, links a version from its page and sees the delivery in the log", async () => {
    step = "automation";
    await signOut();
    await signIn(stack.adminKey);
    await page.goto(`${stack.url}/registries/model/automations`);
    await page.getByText("Create an automation").click();
    await page.getByLabel("Name").fill("notify ci");
    await page.getByLabel("Collection (blank: any)").fill("mnist-classifier");
    await page.getByLabel("URL").fill(receiverUrl);
    await page.getByLabel(/^Secret/).fill("a-secret-of-sixteen+");
    await page
      .getByLabel(/^Payload template/)
      .fill('{"text": "${event_author} linked ${artifact_version_string}", "acc": ${artifact_metadata.accuracy}}');
    await expect
      .poll(() => page.getByTestId("payload-preview").textContent())
      .toContain('"text": "admin linked @model/mnist-classifier:v3"');
    await page.getByRole("button", { name: "Create automation" }).click();
    await page.getByText("Automation notify ci created.").waitFor();
    await expectAccessible("automations");
    await screenshot("automations");

    // Link the fourth checkpoint from its own page, interactively.
    await page.goto(`${stack.url}/projects/vision/artifacts/mnist-cnn/versions/v3/link`);
    await page.getByLabel("Registry", { exact: true }).selectOption("model");
    await page.getByLabel("Collection (existing, or a new name)").fill("mnist-classifier");
    await page.getByText("Adds v3 to mnist-classifier").waitFor();
    await page.getByLabel("Aliases (optional)").fill("candidate");
    await page.getByRole("button", { name: "Link v3" }).click();
    await page.getByText("Linked as model/mnist-classifier:v3.").waitFor();
    await expectAccessible("link");

    await page.goto(`${stack.url}/registries/model/automations`);
    await page.getByRole("link", { name: "notify ci" }).click();
    const log = page.getByTestId("deliveries");
    await log.waitFor({ timeout: 30_000 });
    await expect.poll(() => log.textContent(), { timeout: 30_000 }).toContain("delivered");
    expect(await log.textContent()).toContain("#1: 204");
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!.body)).toEqual({ text: "admin linked @model/mnist-classifier:v3", acc: 0.99 });
    expect(String(received[0]!.headers["x-mreg-signature"])).toMatch(/^sha256=[0-9a-f]{64}$/);
    await page.getByRole("button", { name: /^Replay delivery/ }).click();
    await expect.poll(() => received.length, { timeout: 30_000 }).toBe(2);
    await screenshot("deliveries");
    await expectAccessible("deliveries");
  });

  it("creates an API key, shows it once, and revokes it", async () => {
    step = "keys";
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("button", { name: "Create API key" }).click();
    const field = page.getByTestId("new-key");
    await field.waitFor();
    const key = await field.inputValue();
    expect(key).toMatch(/^mreg_/);
    const id = /New key (\S+)\./.exec((await page.locator(".new-key").textContent()) ?? "")![1]!;
    await page.getByRole("button", { name: "Copy" }).waitFor();
    expect((await stack.api("GET", "/v1/me", undefined, key)).status).toBe(200);
    await screenshot("api-keys");
    await expectAccessible("api keys");
    await page.getByRole("button", { name: "Done" }).click();
    // Shown once: gone from the page, and never in the listing.
    expect(await page.getByTestId("new-key").count()).toBe(0);
    expect(await page.getByTestId("keys-table").textContent()).not.toContain(key);
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: `Revoke key ${id}` }).click();
    await page.getByText(`Key ${id} revoked.`).waitFor();
    await expect.poll(() => page.getByTestId("keys-table").locator("tr", { hasText: id }).textContent()).toContain("revoked");
    expect((await stack.api("GET", "/v1/me", undefined, key)).status).toBe(401);
  });

  it("deactivates a user as an admin: the user's keys stop working until reactivated", async () => {
    step = "users";
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByTestId("status-dan").waitFor();
    expect(await page.getByTestId("status-dan").textContent()).toBe("active");
    expect(await page.getByRole("button", { name: "Deactivate admin" }).isDisabled()).toBe(true);
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Deactivate dan" }).click();
    await expect.poll(() => page.getByTestId("status-dan").textContent()).toBe("deactivated");
    expect((await stack.api("GET", "/v1/me", undefined, keys.dan)).status).toBe(401);
    await screenshot("users");
    await expectAccessible("users");
    await page.getByRole("button", { name: "Reactivate dan" }).click();
    await expect.poll(() => page.getByTestId("status-dan").textContent()).toBe("active");
    expect((await stack.api("GET", "/v1/me", undefined, keys.dan)).status).toBe(200);
  });

  it("lets an org admin change a registry's settings and delete an empty registry", async () => {
    step = "settings";
    await api("POST", "/v1/registries", { name: "scratch", description: "To be removed." });
    await page.goto(`${stack.url}/registries/model/settings`);
    await page.getByText("Only an empty registry can be deleted").waitFor();
    await page.getByLabel("Approvals a promotion needs").fill("1");
    await page.getByRole("button", { name: "Save approvals" }).click();
    await page.getByText("Promotions now need 1 approvals.").waitFor();
    expect((await api("GET", "/v1/registries/model")).approvalsRequired).toBe(1);
    await expectAccessible("registry settings");
    await page.getByLabel("Approvals a promotion needs").fill("0");
    await page.getByRole("button", { name: "Save approvals" }).click();
    await page.getByText("Promotions now need 0 approvals.").waitFor();
    await page.goto(`${stack.url}/registries/scratch/settings`);
    await page.getByRole("button", { name: "Delete registry…" }).click();
    await page.getByRole("button", { name: "Delete scratch" }).click();
    await page.getByRole("heading", { name: "Registries", level: 1 }).waitFor();
    expect((await stack.api("GET", "/v1/registries/scratch")).status).toBe(404);
  });

  it("shows a viewer no button it cannot use", async () => {
    step = "viewer";
    await signOut();
    await signIn(keys.vic!);
    await page.goto(`${stack.url}/registries/model/collections/mnist-classifier`);
    await page.getByTestId("versions-table").waitFor();
    expect(await page.getByRole("button", { name: /^Compare selected/ }).count()).toBe(1);
    for (const name of [/^Unlink/, /^Move alias/, /^Add tag/, /^Remove/, /^Edit description/, /^Delete collection/]) {
      expect(await page.getByRole("button", { name }).count(), String(name)).toBe(0);
    }
    await page.goto(`${stack.url}/registries/model`);
    await page.getByRole("list", { name: "Collections" }).waitFor();
    expect(await page.getByText("Create a collection").count()).toBe(0);
    // Readers see who holds which role; only admins grant, and only they get Automations and Settings.
    await page.getByRole("link", { name: "Members" }).click();
    await page.getByTestId("members-table").locator("tr", { hasText: "ana" }).waitFor();
    expect(await page.getByRole("button", { name: "Grant role" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Automations" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Settings" }).count()).toBe(0);
    await expectAccessible("members");
    expect(await page.getByRole("link", { name: "Users" }).count()).toBe(0);
    await page.goto(`${stack.url}/projects/vision/artifacts/mnist-cnn/versions/v3/link`);
    await page.getByText(/No registry accepts model versions from you/).waitFor();
  });

  it("renders a collection of 1 000 versions (time to first render recorded, not asserted)", async () => {
    step = "big";
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      await page.goto(`${stack.url}/registries/model/collections/big-sweep`);
      await page.getByTestId("versions-table").locator("tbody tr").first().waitFor();
      const ms = await page.evaluate(() => performance.getEntriesByName("mreg:versions-rendered")[0]?.startTime ?? null);
      expect(ms).not.toBeNull();
      runs.push(ms!);
    }
    expect(await page.getByTestId("versions-table").locator("tbody tr").first().textContent()).toContain(`v${BIG_COLLECTION_VERSIONS - 1}`);
    expect(await page.getByTestId("versions-table").locator("tbody tr").count()).toBe(Math.min(100, BIG_COLLECTION_VERSIONS));
    const sorted = [...runs].sort((a, b) => a - b);
    measurements.firstRenderOf1000VersionsMs = { median: sorted[2], min: sorted[0], max: sorted[4], runs };
    console.log(
      `time to first render, collection of ${BIG_COLLECTION_VERSIONS} versions: median ${sorted[2]!.toFixed(0)} ms (${runs.map((r) => r.toFixed(0)).join(", ")})`,
    );
    await screenshot("big-collection");
  });

  it("signs out: the key is gone from the tab", async () => {
    step = "sign-out";
    await signOut();
    expect(await page.evaluate(() => sessionStorage.getItem("mreg.apiKey"))).toBeNull();
    await page.goto(`${stack.url}/registries/model`);
    await page.getByRole("heading", { name: "Sign in to mreg" }).waitFor();
  });

  it("logged no console errors on any page", () => {
    expect(consoleErrors).toEqual([]);
  });
});
