import { loadVersion, type ArtifactRef } from "./artifact-versions.js";
import type { Cursors } from "./cursors.js";
import { NotFoundError, ValidationError } from "./errors.js";
import { versionLabel, type Principal, type RunRecord, type RunRef, type VersionRecord, type VersionRef } from "./model.js";
import type { RegistryAccess } from "./authorize.js";
import type { ArtifactStore, Clock, Ids, LineageStore, RegistryStore } from "./ports.js";
import { resolveLinkTarget, type CollectionRef } from "./registries.js";
import type {
  CreateRunRequest,
  LineageEdge,
  LineageNode,
  LineageQuery,
  LineageResponse,
  MoreEdges,
  RunInputRequest,
  RunResponse,
} from "../contract/runs.js";

export interface LineageDeps {
  artifacts: ArtifactStore;
  registries: RegistryStore;
  lineage: LineageStore;
  clock: Clock;
  ids: Ids;
  cursors: Cursors;
}

type NodeRef = { kind: "run"; ref: RunRef } | { kind: "version"; ref: VersionRef };
type Direction = "up" | "down";

export const runNodeId = (ref: RunRef) => `run:${ref.project}/${ref.id}`;
export const versionNodeId = (ref: VersionRef) => `version:${ref.project}/${ref.artifact}:${versionLabel(ref.index)}`;
const nodeId = (node: NodeRef) => (node.kind === "run" ? runNodeId(node.ref) : versionNodeId(node.ref));

function toRunResponse(run: RunRecord): RunResponse {
  return {
    project: run.project,
    id: run.id,
    name: run.name ?? null,
    config: run.config,
    summary: run.summary ?? {},
    createdAt: run.createdAt,
    createdBy: run.createdBy,
  };
}

/**
 * Creates a run, or updates the name and config of an existing one (a retried job start
 * must not fail). Runs are also created implicitly by the first commit or input naming them.
 */
export async function createRun(
  deps: LineageDeps,
  principal: Principal,
  project: string,
  request: CreateRunRequest,
): Promise<{ created: boolean; run: RunResponse }> {
  const { created, run } = await deps.lineage.saveRun({
    project,
    id: request.id ?? deps.ids.next(),
    ...(request.name === undefined ? {} : { name: request.name }),
    config: request.config ?? {},
    createdAt: deps.clock.now().toISOString(),
    createdBy: principal.userId,
  });
  return { created, run: toRunResponse(run) };
}

export async function getRun(deps: LineageDeps, ref: RunRef): Promise<RunResponse> {
  const [run] = await deps.lineage.getRuns([ref]);
  if (!run) throw new NotFoundError(`project ${ref.project} has no run ${ref.id}`);
  return toRunResponse(run);
}

/** Records that the run used an artifact version (`{v}` may be an alias: the edge pins the number it names now). */
export async function addRunInput(
  deps: LineageDeps,
  principal: Principal,
  run: RunRef,
  request: RunInputRequest,
): Promise<{ run: string; project: string; input: { project: string; artifact: string; version: string; index: number; digest: string } }> {
  const source = await loadVersion(
    deps.artifacts,
    { project: request.project ?? run.project, artifact: request.artifact },
    request.version,
  );
  await deps.lineage.recordInput(
    run,
    { project: source.project, artifact: source.artifact, index: source.index },
    { actor: principal.userId, at: deps.clock.now().toISOString() },
  );
  return {
    run: run.id,
    project: run.project,
    input: {
      project: source.project,
      artifact: source.artifact,
      version: versionLabel(source.index),
      index: source.index,
      digest: source.digest,
    },
  };
}

export async function lineageOfVersion(
  deps: LineageDeps,
  ref: ArtifactRef,
  selector: string,
  query: LineageQuery,
): Promise<LineageResponse> {
  const version = await loadVersion(deps.artifacts, ref, selector);
  return traverse(deps, { kind: "version", ref: { project: version.project, artifact: version.artifact, index: version.index } }, query, [
    version,
  ]);
}

export async function lineageOfRun(deps: LineageDeps, ref: RunRef, query: LineageQuery): Promise<LineageResponse> {
  await getRun(deps, ref);
  return traverse(deps, { kind: "run", ref }, query, []);
}

/** The lineage of the artifact version a collection version links. */
export async function lineageOfCollectionVersion(
  deps: LineageDeps,
  access: RegistryAccess,
  ref: CollectionRef,
  selector: string,
  query: LineageQuery,
): Promise<LineageResponse> {
  const link = await resolveLinkTarget(deps, access, ref, selector);
  const { project, artifact, index } = link.source;
  const versions = await deps.lineage.getVersions([{ project, artifact, index }]);
  const result = await traverse(deps, { kind: "version", ref: { project, artifact, index } }, query, versions);
  return { ...result, link: { registry: link.registry, collection: link.collection, version: versionLabel(link.index) } };
}

interface Cursor {
  dir: Direction;
  after?: string;
}

/** A node's `more` cursor continues that node's edges only: it is sealed for the node. */
const lineageList = (node: NodeRef) => `lineage\u0000${nodeId(node)}`;

function encodeCursor(deps: LineageDeps, node: NodeRef, cursor: Cursor): Promise<string> {
  return deps.cursors.seal(lineageList(node), JSON.stringify(cursor));
}

async function decodeCursor(deps: LineageDeps, node: NodeRef, text: string): Promise<Cursor> {
  const payload = await deps.cursors.open(lineageList(node), text);
  try {
    const cursor = JSON.parse(payload) as Cursor;
    if ((cursor.dir === "up" || cursor.dir === "down") && (cursor.after === undefined || typeof cursor.after === "string")) {
      return cursor;
    }
  } catch {
    // Answered below.
  }
  throw new ValidationError("cursor is not valid for lineage");
}

interface Expansion {
  node: NodeRef;
  dir: Direction;
  after?: string;
}

/**
 * Breadth-first from the root: upwards to the runs that produced a version and the versions
 * a run used, downwards to the runs that used a version and the versions a run produced.
 * `both` is ancestors plus descendants (not siblings). Each expansion is one query (a
 * version's producer is on its item); the caps bound the answer and every edge list that
 * was cut is resumable through its node's `more` cursor, which the node's own lineage
 * route takes with `depth` and `cursor`.
 */
async function traverse(deps: LineageDeps, root: NodeRef, query: LineageQuery, known: VersionRecord[]): Promise<LineageResponse> {
  const start = query.cursor === undefined ? undefined : await decodeCursor(deps, root, query.cursor);
  const directions: Direction[] = start ? [start.dir] : query.direction === "both" ? ["up", "down"] : [query.direction];
  const versions = new Map<string, VersionRecord | null>(known.map((v) => [versionNodeId(v), v]));
  const nodes = new Map<string, { node: NodeRef; more: MoreEdges }>([[nodeId(root), { node: root, more: {} }]]);
  const edges = new Map<string, LineageEdge>();
  let truncated = false;

  const addEdge = (edge: LineageEdge) => edges.set(`${edge.from}>${edge.to}>${edge.kind}`, edge);

  let level: Expansion[] = directions.map((dir) => ({ node: root, dir, after: start?.after }));
  for (let depth = 0; depth < query.depth && level.length > 0; depth++) {
    await loadVersions(
      deps,
      versions,
      level.flatMap((e) => (e.node.kind === "version" && e.dir === "up" ? [e.node.ref] : [])),
    );
    const next: Expansion[] = [];
    for (const expansion of level) {
      const id = nodeId(expansion.node);
      const state = nodes.get(id)!;
      const budget = query.limit - nodes.size;
      if (budget <= 0) {
        state.more[expansion.dir] = await encodeCursor(deps, expansion.node, { dir: expansion.dir, after: expansion.after });
        truncated = true;
        continue;
      }
      const { neighbors, after } = await neighborsOf(deps, versions, expansion, Math.min(query.fanOut, budget));
      if (after !== undefined) {
        state.more[expansion.dir] = await encodeCursor(deps, expansion.node, { dir: expansion.dir, after });
        truncated = true;
      }
      for (const neighbor of neighbors) {
        const otherId = nodeId(neighbor);
        addEdge(edgeBetween(expansion, id, otherId));
        if (nodes.has(otherId)) continue;
        nodes.set(otherId, { node: neighbor, more: {} });
        next.push({ node: neighbor, dir: expansion.dir });
      }
    }
    level = next;
  }

  const all = [...nodes.values()];
  await loadVersions(
    deps,
    versions,
    all.flatMap(({ node }) => (node.kind === "version" ? [node.ref] : [])),
  );
  const runs = new Map(
    (await deps.lineage.getRuns(all.flatMap(({ node }) => (node.kind === "run" ? [node.ref] : [])))).map((r) => [runNodeId(r), r]),
  );
  return {
    root: nodeId(root),
    nodes: all.map(({ node, more }) => toNode(node, more, versions, runs)),
    edges: [...edges.values()],
    truncated,
  };
}

function edgeBetween(expansion: Expansion, id: string, otherId: string): LineageEdge {
  if (expansion.node.kind === "version") {
    // Up: the run that produced this version; down: a run that used it.
    return expansion.dir === "up" ? { from: otherId, to: id, kind: "output" } : { from: id, to: otherId, kind: "input" };
  }
  // Up: a version this run used; down: a version it produced.
  return expansion.dir === "up" ? { from: otherId, to: id, kind: "input" } : { from: id, to: otherId, kind: "output" };
}

async function neighborsOf(
  deps: LineageDeps,
  versions: Map<string, VersionRecord | null>,
  expansion: Expansion,
  limit: number,
): Promise<{ neighbors: NodeRef[]; after?: string }> {
  const page = { limit, cursor: expansion.after };
  const { node, dir } = expansion;
  if (node.kind === "version") {
    if (dir === "up") {
      const version = versions.get(versionNodeId(node.ref));
      return { neighbors: version?.runId ? [{ kind: "run", ref: { project: version.project, id: version.runId } }] : [] };
    }
    const consumers = await deps.lineage.listVersionConsumers(node.ref, page);
    return { neighbors: consumers.items.map((ref) => ({ kind: "run", ref })), after: consumers.nextCursor };
  }
  const list = dir === "up" ? deps.lineage.listRunInputs(node.ref, page) : deps.lineage.listRunOutputs(node.ref, page);
  const result = await list;
  return { neighbors: result.items.map((ref) => ({ kind: "version", ref })), after: result.nextCursor };
}

async function loadVersions(deps: LineageDeps, cache: Map<string, VersionRecord | null>, refs: VersionRef[]): Promise<void> {
  const missing = refs.filter((ref) => !cache.has(versionNodeId(ref)));
  if (missing.length === 0) return;
  const found = await deps.lineage.getVersions(missing);
  for (const version of found) cache.set(versionNodeId(version), version);
  for (const ref of missing) if (!cache.has(versionNodeId(ref))) cache.set(versionNodeId(ref), null);
}

function toNode(node: NodeRef, more: MoreEdges, versions: Map<string, VersionRecord | null>, runs: Map<string, RunRecord>): LineageNode {
  const extra = Object.keys(more).length > 0 ? { more } : {};
  if (node.kind === "run") {
    const run = runs.get(runNodeId(node.ref));
    return {
      id: runNodeId(node.ref),
      kind: "run",
      project: node.ref.project,
      run: node.ref.id,
      name: run?.name ?? null,
      createdAt: run?.createdAt ?? null,
      createdBy: run?.createdBy ?? null,
      ...extra,
    };
  }
  const { project, artifact, index } = node.ref;
  const base = { id: versionNodeId(node.ref), kind: "version" as const, project, artifact, version: versionLabel(index), index };
  const version = versions.get(versionNodeId(node.ref));
  if (!version) return { ...base, deleted: true, ...extra };
  return {
    ...base,
    type: version.type,
    digest: version.digest,
    aliases: [...version.aliases].sort(),
    createdAt: version.createdAt,
    createdBy: version.createdBy,
    ...extra,
  };
}
