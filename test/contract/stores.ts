import type {
  ArtifactStore,
  AutomationStore,
  BlobLedger,
  IdentityStore,
  JobStore,
  LineageStore,
  NewLink,
  NewVersion,
  PromotionStore,
  RegistryStore,
} from "../../lambdas/core/ports.js";
import type { VersionRecord } from "../../lambdas/core/model.js";

/** Every store behind one table (or one in-memory world): what a contract suite runs against. */
export interface Stores {
  artifacts: ArtifactStore;
  ledger: BlobLedger;
  identity: IdentityStore;
  registries: RegistryStore;
  promotions: PromotionStore;
  lineage: LineageStore;
  automations: AutomationStore;
  jobs: JobStore;
  /** The ledger of another process on the same table (or world): how claims meet across processes. */
  ledgerFor(options: { holder: string; soleHolder?: boolean }): BlobLedger;
}

/** A fresh, empty world for each test. */
export type MakeStores = () => Promise<Stores>;

export const AT = "2025-01-01T00:00:00.000Z";
export const change = { actor: "alice", at: AT };

export const digest = (n: number) => n.toString(16).padStart(64, "0");

export function newVersion(extra: Partial<NewVersion> & { digest: string }): NewVersion {
  return {
    project: "vision",
    artifact: "mnist",
    type: "model",
    metadata: { acc: 0.9 },
    description: "weights",
    size: 42,
    fileCount: 2,
    blobs: [],
    aliases: [],
    ...change,
    ...extra,
  };
}

/** Commits as the use case does when nothing races: reads the state, then writes on it. */
export async function commit(stores: Stores, version: NewVersion): Promise<VersionRecord> {
  const state = await stores.artifacts.readCommitState(version.project, version.artifact, version.digest, version.aliases);
  const outcome = await stores.artifacts.commitVersion(version, state);
  if (!outcome.created) throw new Error(`commit of ${version.digest} lost`);
  return outcome.version;
}

export function newLink(version: VersionRecord, extra: Partial<NewLink> = {}): NewLink {
  return {
    registry: "model",
    collection: "mnist-classifier",
    source: { project: version.project, artifact: version.artifact, index: version.index, digest: version.digest },
    sourceRevision: version.revision ?? 0,
    type: version.type,
    metadata: version.metadata,
    description: version.description,
    size: version.size,
    fileCount: version.fileCount,
    newCollection: { tags: [] },
    aliases: [],
    ...change,
    ...extra,
  };
}

/** Links as the use case does when nothing races. */
export async function link(stores: Stores, request: NewLink) {
  const state = await stores.registries.readLinkState(request.registry, request.collection, request.source, request.aliases);
  const outcome = await stores.registries.linkVersion(request, state);
  if (!outcome.created) throw new Error(`link of ${request.source.artifact}:v${request.source.index} lost`);
  return outcome.link;
}
