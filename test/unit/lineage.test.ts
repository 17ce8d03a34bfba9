import { beforeEach, describe, expect, it } from "vitest";
import { NotFoundError, ValidationError } from "../../lambdas/core/errors.js";
import { addRunInput, createRun, lineageOfRun, lineageOfVersion } from "../../lambdas/core/lineage.js";
import type { Principal } from "../../lambdas/core/model.js";
import { lineageQuery } from "../../lambdas/contract/runs.js";
import { fakeDeps, type FakeDeps } from "../support/fakes.js";

const ana: Principal = { userId: "ana", orgRole: "member" };
let deps: FakeDeps;

beforeEach(() => {
  deps = fakeDeps();
});

async function version(artifact: string, runId?: string, project = "p"): Promise<number> {
  const added = await deps.artifacts.add({
    project,
    artifact,
    type: "model",
    digest: `${artifact}-${Math.random()}`.padEnd(64, "0"),
    metadata: {},
    size: 1,
    fileCount: 1,
    blobs: [],
    aliases: [],
    actor: "ana",
    at: "2025-01-01T00:00:00.000Z",
    ...(runId ? { runId } : {}),
  });
  return added.index;
}

const query = (params: Record<string, string> = {}) => lineageQuery.parse(params);
const ids = (answer: { nodes: { id: string }[] }) => answer.nodes.map((n) => n.id).sort();

describe("runs", () => {
  it("creates a run, and a retried create keeps it and updates what it names", async () => {
    const first = await createRun(deps, ana, "p", { id: "r1", name: "fit", config: { lr: 0.1 } });
    expect(first).toMatchObject({ created: true, run: { id: "r1", name: "fit", config: { lr: 0.1 }, createdBy: "ana" } });
    const again = await createRun(deps, { ...ana, userId: "bob" }, "p", { id: "r1" });
    expect(again).toMatchObject({ created: false, run: { id: "r1", name: "fit", config: { lr: 0.1 }, createdBy: "ana" } });
    expect((await createRun(deps, ana, "p", {})).run.id).toMatch(/^id-/);
  });

  it("records an input by alias as the version it names now; a missing version is a 404", async () => {
    await version("data");
    await version("data");
    const input = await addRunInput(deps, ana, { project: "p", id: "r1" }, { artifact: "data", version: "latest" });
    expect(input.input).toMatchObject({ project: "p", artifact: "data", version: "v1", index: 1 });
    await expect(addRunInput(deps, ana, { project: "p", id: "r1" }, { artifact: "data", version: "v7" })).rejects.toThrow(NotFoundError);
  });
});

describe("lineage", () => {
  beforeEach(async () => {
    // data-a v0, data-b v0 → run r1 → model v0 → run r2 → eval v0
    await version("data-a");
    await version("data-b");
    await addRunInput(deps, ana, { project: "p", id: "r1" }, { artifact: "data-a", version: "v0" });
    await addRunInput(deps, ana, { project: "p", id: "r1" }, { artifact: "data-b", version: "v0" });
    await version("model", "r1");
    await addRunInput(deps, ana, { project: "p", id: "r2" }, { artifact: "model", version: "v0" });
    await version("eval", "r2");
  });

  it("goes up to the producing run and its inputs, as deep as asked", async () => {
    const one = await lineageOfVersion(deps, { project: "p", artifact: "model" }, "v0", query({ direction: "up", depth: "1" }));
    expect(ids(one)).toEqual(["run:p/r1", "version:p/model:v0"]);
    expect(one.edges).toEqual([{ from: "run:p/r1", to: "version:p/model:v0", kind: "output" }]);

    const two = await lineageOfVersion(deps, { project: "p", artifact: "model" }, "v0", query({ direction: "up", depth: "2" }));
    expect(ids(two)).toEqual(["run:p/r1", "version:p/data-a:v0", "version:p/data-b:v0", "version:p/model:v0"]);
    expect(two.edges).toHaveLength(3);
    expect(two.truncated).toBe(false);
  });

  it("goes down to the runs that used a version and what they produced", async () => {
    const down = await lineageOfVersion(deps, { project: "p", artifact: "data-a" }, "v0", query({ direction: "down", depth: "4" }));
    expect(ids(down)).toEqual(["run:p/r1", "run:p/r2", "version:p/data-a:v0", "version:p/eval:v0", "version:p/model:v0"]);
    expect(down.edges).toContainEqual({ from: "version:p/model:v0", to: "run:p/r2", kind: "input" });
  });

  it("takes ancestors and descendants for both, not siblings", async () => {
    const both = await lineageOfVersion(deps, { project: "p", artifact: "model" }, "v0", query({ depth: "2" }));
    expect(ids(both)).toEqual([
      "run:p/r1",
      "run:p/r2",
      "version:p/data-a:v0",
      "version:p/data-b:v0",
      "version:p/eval:v0",
      "version:p/model:v0",
    ]);
    // data-b is a sibling input of data-a, not its ancestor or descendant.
    const fromA = await lineageOfVersion(deps, { project: "p", artifact: "data-a" }, "v0", query({ depth: "2" }));
    expect(ids(fromA)).not.toContain("version:p/data-b:v0");
  });

  it("describes nodes: versions with their details, runs with theirs", async () => {
    await createRun(deps, ana, "p", { id: "r1", name: "fit" });
    const answer = await lineageOfRun(deps, { project: "p", id: "r1" }, query({ depth: "1" }));
    expect(answer.root).toBe("run:p/r1");
    expect(answer.nodes.find((n) => n.id === "run:p/r1")).toMatchObject({ kind: "run", run: "r1", name: "fit" });
    expect(answer.nodes.find((n) => n.id === "version:p/model:v0")).toMatchObject({
      kind: "version",
      artifact: "model",
      version: "v0",
      index: 0,
      type: "model",
      aliases: ["latest"],
    });
  });

  it("caps the nodes and marks where the graph was cut, resumable per node", async () => {
    const capped = await lineageOfVersion(
      deps,
      { project: "p", artifact: "model" },
      "v0",
      query({ direction: "up", depth: "3", limit: "3" }),
    );
    expect(capped.nodes).toHaveLength(3);
    expect(capped.truncated).toBe(true);
    const run = capped.nodes.find((n) => n.id === "run:p/r1")!;
    expect(run.more?.up).toEqual(expect.any(String));
    // The run's own lineage continues from the cursor.
    const rest = await lineageOfRun(deps, { project: "p", id: "r1" }, query({ depth: "1", cursor: run.more!.up! }));
    const seen = new Set([...ids(capped), ...ids(rest)]);
    expect([...seen].sort()).toEqual(["run:p/r1", "version:p/data-a:v0", "version:p/data-b:v0", "version:p/model:v0"]);
  });

  it("pages a wide fan-out through the node's cursor until every edge was seen", async () => {
    for (let i = 0; i < 7; i++) await addRunInput(deps, ana, { project: "p", id: `fan-${i}` }, { artifact: "data-a", version: "v0" });
    const runs = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const answer = await lineageOfVersion(
        deps,
        { project: "p", artifact: "data-a" },
        "v0",
        query({ direction: "down", depth: "1", fanOut: "3", ...(cursor ? { cursor } : {}) }),
      );
      pages++;
      expect(answer.nodes.length).toBeLessThanOrEqual(4);
      for (const node of answer.nodes) if (node.kind === "run") runs.add(node.run);
      cursor = answer.nodes.find((n) => n.id === answer.root)!.more?.down;
    } while (cursor);
    expect(pages).toBe(3);
    expect(runs.size).toBe(8);
  });

  it("shows a deleted version as a deleted node and refuses a foreign cursor", async () => {
    await deps.artifacts.deleteVersion({ project: "p", artifact: "data-b", actor: "ana", at: "2025-01-02T00:00:00.000Z" }, 0);
    const answer = await lineageOfRun(deps, { project: "p", id: "r1" }, query({ direction: "up", depth: "1" }));
    expect(answer.nodes.find((n) => n.id === "version:p/data-b:v0")).toMatchObject({ deleted: true });
    await expect(lineageOfRun(deps, { project: "p", id: "r1" }, query({ cursor: "bm90IGEgY3Vyc29y" }))).rejects.toThrow(ValidationError);
  });

  it("answers 404 for an unknown run", async () => {
    await expect(lineageOfRun(deps, { project: "p", id: "ghost" }, query())).rejects.toThrow(NotFoundError);
  });
});
