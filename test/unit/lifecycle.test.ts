import { beforeEach, describe, expect, it } from "vitest";
import { authenticate, generateApiKey } from "../../lambdas/core/api-keys.js";
import { setArtifactAlias, getVersion } from "../../lambdas/core/artifact-versions.js";
import { authorizeRoute, registryAccess, type RegistryAccess } from "../../lambdas/core/authorize.js";
import { deleteCollection, planCollectionDelete, updateCollection } from "../../lambdas/core/collections.js";
import { ConflictError, ForbiddenError, NotFoundError, PreconditionFailedError, ValidationError } from "../../lambdas/core/errors.js";
import type { Principal } from "../../lambdas/core/model.js";
import { listProjects } from "../../lambdas/core/projects.js";
import {
  createRegistry,
  getCollection,
  getCollectionVersion,
  linkVersion,
  listCollectionHistory,
  setCollectionAlias,
} from "../../lambdas/core/registries.js";
import { deleteRegistry, listMembers, updateRegistry } from "../../lambdas/core/registry-admin.js";
import { createApiKey, createUser, listMemberships, updateUser } from "../../lambdas/core/users.js";
import { mergeMetadata, updateVersion } from "../../lambdas/core/version-edits.js";
import { fakeDeps, sha256Hex, type FakeDeps } from "../support/fakes.js";

const AT = "2025-01-01T00:00:00.000Z";
const root: Principal = { userId: "root", orgRole: "admin" };
const alice: Principal = { userId: "alice", orgRole: "member" };
const ref = { project: "train", artifact: "mnist" };
const col = (collection = "mnist-classifier") => ({ registry: "model", collection });

let deps: FakeDeps;
let member: RegistryAccess;
let admin: RegistryAccess;

async function logVersions(artifact: string, count: number, project = "train") {
  for (let i = 0; i < count; i++) {
    await deps.artifacts.add({
      project,
      artifact,
      type: "model",
      digest: sha256Hex(`${project}/${artifact} ${i}`),
      metadata: { epoch: i },
      description: `epoch ${i}`,
      size: 10,
      fileCount: 1,
      blobs: [],
      aliases: [],
      actor: "alice",
      at: AT,
    });
  }
}

const link = (collection: string, version: string, aliases: string[] = []) =>
  linkVersion(deps, alice, member, collection, { project: "train", artifact: "mnist", version, aliases });

beforeEach(async () => {
  deps = fakeDeps();
  for (const user of [root, alice]) await createUser(deps, { name: user.userId, role: user.orgRole });
  await createRegistry(deps, root, {
    name: "model",
    visibility: "organization",
    artifactTypes: ["model"],
    protectedAliases: ["production"],
  });
  await deps.registries.putMember("model", "alice", "member", { actor: "root", at: AT });
  member = await registryAccess(deps, alice, "model");
  admin = await registryAccess(deps, root, "model");
  await logVersions("mnist", 3);
});

describe("updateVersion", () => {
  it("merges metadata key by key, removes keys set to null, and sets or removes the description", async () => {
    await deps.artifacts.moveAliases({ ...ref, actor: "alice", at: AT }, 1, ["best"]);

    const edited = await updateVersion(deps, alice, ref, "best", { metadata: { f1: 0.7, epoch: null }, description: "chosen" });

    expect(edited).toMatchObject({ version: "v1", metadata: { f1: 0.7 }, description: "chosen", aliases: ["best"] });
    expect(await getVersion(deps, ref, "v1")).toMatchObject({ metadata: { f1: 0.7 }, description: "chosen" });
    expect((await updateVersion(deps, alice, ref, "v1", { description: null })).description).toBeNull();
    expect(deps.artifacts.events("train", "mnist").at(-1)).toMatchObject({
      action: "version.updated",
      actor: "alice",
      version: "v1",
      before: { description: "chosen", metadata: { f1: 0.7 } },
      after: { description: null, metadata: { f1: 0.7 } },
    });
  });

  it("keeps a key such as __proto__ as data, and nested values are replaced whole", () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "train": {"lr": 0.1}}') as Record<string, unknown>;
    const merged = mergeMetadata({ train: { lr: 0.01, epochs: 3 } }, patch);
    expect(Object.keys(merged)).toEqual(["train", "__proto__"]);
    expect(merged.train).toEqual({ lr: 0.1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
  });

  it("refuses metadata that would outgrow the commit's limit, writing nothing", async () => {
    const big = "x".repeat(40 * 1024);
    await updateVersion(deps, alice, ref, "v0", { metadata: { a: big } });
    await expect(updateVersion(deps, alice, ref, "v0", { metadata: { b: big } })).rejects.toThrow(ValidationError);
    expect((await getVersion(deps, ref, "v0")).metadata).toEqual({ epoch: 0, a: big });
  });

  it("reaches every link of the version, so collection versions show the edit", async () => {
    await link("mnist-classifier", "v2");
    await updateVersion(deps, alice, ref, "v2", { metadata: { accuracy: 0.98 } });
    expect(await getCollectionVersion(deps, col(), "latest")).toMatchObject({
      metadata: { epoch: 2, accuracy: 0.98 },
      description: "epoch 2",
    });
  });

  it("answers 404 for a version that does not exist", async () => {
    await expect(updateVersion(deps, alice, ref, "v9", { description: "x" })).rejects.toThrow(NotFoundError);
  });
});

describe("compare-and-swap alias moves", () => {
  it("moves an artifact alias only from the version expected, else 412 naming the holder, nothing written", async () => {
    await setArtifactAlias(deps, alice, ref, "best", "v0");
    const before = deps.artifacts.events("train", "mnist").length;

    const stale = setArtifactAlias(deps, alice, ref, "best", "v2", "v1");
    await expect(stale).rejects.toThrow(PreconditionFailedError);
    await expect(stale).rejects.toMatchObject({ details: { alias: "best", current: "v0" } });
    await expect(setArtifactAlias(deps, alice, ref, "best", "v2", null)).rejects.toThrow(/names v0, not nothing/);
    expect(deps.artifacts.events("train", "mnist")).toHaveLength(before);

    expect(await setArtifactAlias(deps, alice, ref, "best", "v2", "v0")).toEqual({ alias: "best", version: "v2", previous: "v0" });
    expect(await setArtifactAlias(deps, alice, ref, "fresh", 1, null)).toMatchObject({ alias: "fresh", version: "v1" });
    await expect(setArtifactAlias(deps, alice, ref, "best", "v1", "production")).rejects.toThrow(ValidationError);
  });

  it("holds a collection alias the same way", async () => {
    await link("mnist-classifier", "v0", ["staging"]);
    await link("mnist-classifier", "v1");
    await expect(setCollectionAlias(deps, alice, member, col(), "staging", "v1", 1)).rejects.toMatchObject({
      code: "precondition_failed",
      details: { current: "v0" },
    });
    expect(await setCollectionAlias(deps, alice, member, col(), "staging", "v1", "v0")).toMatchObject({ version: "v1", previous: "v0" });
  });

  it("lets admins move a protected alias directly only while the registry requires no approvals", async () => {
    await link("mnist-classifier", "v0");
    expect(await setCollectionAlias(deps, root, admin, col(), "production", "v0")).toMatchObject({ version: "v0" });

    await updateRegistry(deps, root, admin, { approvalsRequired: 2 });
    const gated = await registryAccess(deps, root, "model");
    await expect(setCollectionAlias(deps, root, gated, col(), "production", "v0")).rejects.toThrow(/requires 2 approvals/);
    await expect(
      linkVersion(deps, root, gated, "mnist-classifier", { project: "train", artifact: "mnist", version: "v2", aliases: ["production"] }),
    ).rejects.toThrow(ForbiddenError);
    // Unprotected aliases still move directly.
    expect(await setCollectionAlias(deps, alice, await registryAccess(deps, alice, "model"), col(), "staging", "v0")).toMatchObject({
      version: "v0",
    });
  });
});

describe("collections", () => {
  it("edits the description (model card) and tags, audited with both states", async () => {
    await link("mnist-classifier", "v0");
    const edited = await updateCollection(deps, alice, col(), { description: "# MNIST\n\nDigits.", tags: ["vision", "digits", "vision"] });
    expect(edited).toMatchObject({ description: "# MNIST\n\nDigits.", tags: ["digits", "vision"], aliases: { latest: "v0" } });
    expect((await updateCollection(deps, alice, col(), { description: null })).description).toBeNull();
    const [event] = (await listCollectionHistory(deps, col(), { limit: 1 })).items;
    expect(event).toMatchObject({ action: "collection.updated", after: { description: null, tags: ["digits", "vision"] } });
    await expect(updateCollection(deps, alice, col("nope"), { tags: [] })).rejects.toThrow(NotFoundError);
  });

  it("refuses to delete a collection with links without force, naming them; writes nothing", async () => {
    await link("mnist-classifier", "v0");
    await link("mnist-classifier", "v2");
    await expect(deleteCollection(deps, root, col(), { force: false })).rejects.toThrow(
      /@model\/mnist-classifier links 2 versions \(@model\/mnist-classifier:v0, @model\/mnist-classifier:v1\).*force=true/,
    );
    expect((await getCollection(deps, col())).linkCount).toBe(2);
  });

  it("with force unlinks each version (oldest first, each with its event), then deletes the collection", async () => {
    await link("mnist-classifier", "v0", ["staging"]);
    await link("mnist-classifier", "v2");
    const plan = await planCollectionDelete(deps, col());
    expect(plan.links.map((l) => [l.version, l.source.version, l.aliases])).toEqual([
      ["v0", "v0", ["staging"]],
      ["v1", "v2", ["latest"]],
    ]);

    expect(await deleteCollection(deps, root, col(), { force: true })).toEqual({
      deleted: "@model/mnist-classifier",
      unlinked: ["@model/mnist-classifier:v0", "@model/mnist-classifier:v1"],
    });

    await expect(getCollection(deps, col())).rejects.toThrow(NotFoundError);
    // The history outlives the collection: its store still answers it.
    const history = await deps.registries.listCollectionHistory("model", "mnist-classifier", { limit: 3 });
    expect(history.items.map((e) => [e.action, e.actor, e.version])).toEqual([
      ["collection.deleted", "root", undefined],
      ["link.removed", "root", "v1"],
      ["link.removed", "root", "v0"],
    ]);
    expect(deps.registries.registryEvents.at(-1)).toMatchObject({ action: "collection.deleted", actor: "root" });
    expect(await deps.registries.linksOfVersion("train", "mnist", 0)).toEqual([]);
  });
});

describe("registries", () => {
  it("lets admins edit the description and approvals, audited with both states", async () => {
    const edited = await updateRegistry(deps, root, admin, { description: "the models", approvalsRequired: 1 });
    expect(edited).toMatchObject({ name: "model", description: "the models", approvalsRequired: 1, role: "admin" });
    expect(deps.registries.registryEvents.at(-1)).toMatchObject({
      action: "registry.updated",
      before: { description: null, approvalsRequired: 0 },
      after: { description: "the models", approvalsRequired: 1 },
    });
  });

  it("lists members with roles", async () => {
    expect((await listMembers(deps, member, { limit: 10 })).items).toEqual([
      { user: "alice", role: "member", grantedAt: AT, grantedBy: "root" },
    ]);
  });

  it("deletes only an empty registry, with its members and automations", async () => {
    await link("mnist-classifier", "v0");
    await expect(deleteRegistry(deps, root, "model")).rejects.toThrow(ConflictError);
    await deleteCollection(deps, root, col(), { force: true });
    await deps.automations.createAutomation({
      id: "a1",
      registry: "model",
      name: "hook",
      event: "LINK_ARTIFACT",
      url: "https://hooks.example.com/",
      createdAt: AT,
      createdBy: "root",
    });

    expect(await deleteRegistry(deps, root, "model")).toEqual({ deleted: "model", members: ["alice"], automations: ["a1"] });
    await expect(registryAccess(deps, root, "model")).rejects.toThrow(NotFoundError);
    expect(await deps.registries.membershipsOf("alice")).toEqual(new Map());
    await expect(deleteRegistry(deps, root, "model")).rejects.toThrow(NotFoundError);
  });
});

describe("listProjects", () => {
  it("lists every project by name with its artifact count", async () => {
    await logVersions("cifar", 2);
    await logVersions("wav2vec", 1, "audio");
    expect((await listProjects(deps, { limit: 10 })).items).toEqual([
      { name: "audio", artifactCount: 1, createdAt: AT, createdBy: "alice" },
      { name: "train", artifactCount: 2, createdAt: AT, createdBy: "alice" },
    ]);
  });
});

describe("users", () => {
  const bearer = async (user: string) => `Bearer ${(await createApiKey(deps, root, { user })).key}`;

  it("lowers a role: the user's keys are judged by the new role on the next request", async () => {
    const key = await bearer("alice");
    expect(await authenticate(deps, key)).toEqual({ userId: "alice", orgRole: "member" });

    expect(await updateUser(deps, root, "alice", { role: "viewer" })).toMatchObject({ id: "alice", role: "viewer", status: "active" });

    const principal = await authenticate(deps, key);
    expect(principal).toEqual({ userId: "alice", orgRole: "viewer" });
    await expect(authorizeRoute(deps, principal, "project:write", {})).rejects.toThrow(ForbiddenError);
    expect(deps.identity.userEvents.at(-1)).toMatchObject({
      action: "user.updated",
      actor: "root",
      user: "alice",
      before: { role: "member", status: "active" },
      after: { role: "viewer", status: "active" },
      keys: 1,
    });
  });

  it("deactivates a user: every key is refused at once, keys stored before keys carried roles too; no new key is issued", async () => {
    const key = await bearer("alice");
    // A key stored before keys carried their user's role and status: authentication reads the user.
    const legacy = generateApiKey();
    deps.identity.apiKeys.set(legacy.keyHash, { id: "old", userId: "alice", keyHash: legacy.keyHash, createdAt: AT });
    expect(await authenticate(deps, `Bearer ${legacy.secret}`)).toMatchObject({ userId: "alice" });

    await updateUser(deps, root, "alice", { status: "deactivated" });

    await expect(authenticate(deps, key)).rejects.toThrow("deactivated");
    await expect(authenticate(deps, `Bearer ${legacy.secret}`)).rejects.toThrow("deactivated");
    await expect(createApiKey(deps, root, { user: "alice" })).rejects.toThrow(ConflictError);
    await updateUser(deps, root, "alice", { status: "active" });
    expect(await authenticate(deps, key)).toMatchObject({ userId: "alice" });
  });

  it("refuses an admin's change of themselves, and an unknown user", async () => {
    await expect(updateUser(deps, root, "root", { role: "member" })).rejects.toThrow(ForbiddenError);
    await expect(updateUser(deps, root, "ghost", { role: "member" })).rejects.toThrow(NotFoundError);
  });

  it("lists a user's memberships, to themselves and org admins (the route's user:self)", async () => {
    expect(await listMemberships(deps, "alice")).toEqual({
      user: "alice",
      orgRole: "member",
      items: [{ registry: "model", role: "member" }],
    });
    await expect(listMemberships(deps, "ghost")).rejects.toThrow(NotFoundError);
    await expect(authorizeRoute(deps, alice, "user:self", { user: "alice" })).resolves.toEqual({});
    await expect(authorizeRoute(deps, alice, "user:self", { user: "root" })).rejects.toThrow(ForbiddenError);
    await expect(authorizeRoute(deps, root, "user:self", { user: "alice" })).resolves.toEqual({});
  });
});
