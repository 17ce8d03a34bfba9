import { beforeEach, describe, expect, it, vi } from "vitest";
import { registryAccess, type RegistryAccess } from "../../lambdas/core/authorize.js";
import { ConflictError, ForbiddenError, NotFoundError, UnprocessableError, ValidationError } from "../../lambdas/core/errors.js";
import { canonicalManifest, manifestDigest } from "../../lambdas/core/manifest.js";
import type { Principal } from "../../lambdas/core/model.js";
import {
  createCollection,
  createRegistry,
  getCollection,
  getCollectionVersion,
  linkVersion,
  listCollectionFiles,
  listCollectionHistory,
  listCollections,
  listCollectionVersions,
  listRegistries,
  removeCollectionAlias,
  setCollectionAlias,
  tagCollection,
  tagCollectionVersion,
  unlinkVersion,
} from "../../lambdas/core/registries.js";
import type { LinkRequest } from "../../lambdas/contract/registries.js";
import { deleteArtifactVersion } from "../../lambdas/core/artifact-versions.js";
import { fakeDeps, sha256Hex, type FakeDeps } from "../support/fakes.js";

const AT = "2025-01-01T00:00:00.000Z";
const root: Principal = { userId: "root", orgRole: "admin" };
const alice: Principal = { userId: "alice", orgRole: "member" };
const bob: Principal = { userId: "bob", orgRole: "member" };

let deps: FakeDeps;
/** alice, a member of registry `model`; root, an org admin (so a registry admin everywhere). */
let member: RegistryAccess;
let admin: RegistryAccess;

/** The one file of `train/<artifact>:v<i>`, and the digest of that manifest. */
const entryOf = (artifact: string, i: number) => ({ path: "weights.bin", size: 100, sha256: sha256Hex(`${artifact} weights ${i}`) });
const digestOf = (artifact: string, i: number) => manifestDigest(canonicalManifest([entryOf(artifact, i)]));

/** Commits `count` versions of `train/<artifact>`: v0 … v(count-1), each with `{epoch: i}`. */
async function logVersions(artifact: string, count: number, type = "model") {
  for (let i = 0; i < count; i++) {
    await deps.artifacts.add({
      project: "train",
      artifact,
      type,
      digest: digestOf(artifact, i),
      metadata: { epoch: i },
      description: `${artifact} epoch ${i}`,
      size: 100 + i,
      fileCount: 1,
      blobs: [],
      aliases: [],
      actor: "alice",
      at: AT,
    });
  }
}

const linkAs = (
  principal: Principal,
  access: RegistryAccess,
  collection: string,
  version: string | number,
  extra: Partial<LinkRequest> = {},
) => linkVersion(deps, principal, access, collection, { project: "train", artifact: "mnist", version, ...extra });

const link = (collection: string, version: string | number, extra: Partial<LinkRequest> = {}) =>
  linkAs(alice, member, collection, version, extra);

const ref = (collection: string, registry = "model") => ({ registry, collection });

/** Which link holds `alias`, read from the links themselves (not the alias index). */
async function holders(collection: string, alias: string): Promise<string[]> {
  const page = await listCollectionVersions(deps, ref(collection), { limit: 100 });
  return page.items.filter((v) => v.aliases.includes(alias)).map((v) => v.version);
}

async function actions(collection: string, registry = "model"): Promise<string[]> {
  const page = await listCollectionHistory(deps, ref(collection, registry), { limit: 100 });
  return page.items.map((e) => e.action);
}

beforeEach(async () => {
  deps = fakeDeps();
  for (const user of [alice, bob]) {
    await deps.identity.createUser({ id: user.userId, name: user.userId, orgRole: user.orgRole, status: "active", createdAt: AT });
  }
  await createRegistry(deps, root, {
    name: "model",
    visibility: "organization",
    artifactTypes: ["model"],
    protectedAliases: ["production"],
  });
  await deps.registries.putMember("model", "alice", "member", { actor: "root", at: AT });
  member = await registryAccess(deps, alice, "model");
  admin = await registryAccess(deps, root, "model");
  expect([member.role, admin.role]).toEqual(["member", "admin"]);
  await logVersions("mnist", 3);
});

describe("linkVersion", () => {
  it("numbers links in link order, not source order, and creates the collection on the first link", async () => {
    const first = await link("mnist-classifier", "v2", { description: "digits" });
    expect(first).toEqual({ version: "v0", index: 0, created: true, aliases: ["latest"] });
    expect(await link("mnist-classifier", "v0")).toMatchObject({ version: "v1", created: true });
    expect(await link("mnist-classifier", 1)).toMatchObject({ version: "v2", created: true });

    const versions = await listCollectionVersions(deps, ref("mnist-classifier"), { limit: 10 });
    expect(versions.items.map((v) => [v.version, v.source.version])).toEqual([
      ["v2", "v1"],
      ["v1", "v0"],
      ["v0", "v2"],
    ]);
    expect(await getCollection(deps, ref("mnist-classifier"))).toEqual({
      registry: "model",
      name: "mnist-classifier",
      type: "model",
      description: "digits",
      tags: [],
      aliases: { latest: "v2" },
      latest: "v2",
      linkCount: 3,
      createdAt: AT,
      createdBy: "alice",
    });
  });

  it("types a collection it creates after the artifact", async () => {
    await createRegistry(deps, root, { name: "open", visibility: "organization", protectedAliases: [] });
    await logVersions("mnist-data", 1, "dataset");

    await linkVersion(deps, alice, await registryAccess(deps, root, "open"), "digits", {
      project: "train",
      artifact: "mnist-data",
      version: "v0",
    });

    expect((await getCollection(deps, ref("digits", "open"))).type).toBe("dataset");
  });

  it("returns the first link with 200 and created:false when the source is linked again, applying the aliases", async () => {
    await link("mnist-classifier", "v2");
    await link("mnist-classifier", "v0");

    const again = await link("mnist-classifier", "v2", { aliases: ["staging"] });

    expect(again).toEqual({ version: "v0", index: 0, created: false, aliases: ["staging"] });
    expect((await getCollection(deps, ref("mnist-classifier"))).linkCount).toBe(2);
    expect(await holders("mnist-classifier", "staging")).toEqual(["v0"]);
    expect(await holders("mnist-classifier", "latest")).toEqual(["v1"]);
  });

  it("refuses a type the registry does not accept with 422 naming both types, and creates nothing", async () => {
    await logVersions("mnist-data", 1, "dataset");

    const error = await linkVersion(deps, alice, member, "digits", {
      project: "train",
      artifact: "mnist-data",
      version: "v0",
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as Error).message).toMatch(/model.*dataset/);
    await expect(getCollection(deps, ref("digits"))).rejects.toThrow(NotFoundError);
    await expect(createCollection(deps, root, admin, { name: "digits", type: "dataset", tags: [] })).rejects.toThrow(/model.*dataset/);
  });

  it("refuses a version whose type is not the collection's with 422 naming both types", async () => {
    await createRegistry(deps, root, { name: "open", visibility: "organization", protectedAliases: [] });
    const open = await registryAccess(deps, root, "open");
    await createCollection(deps, root, open, { name: "typed", type: "model", tags: [] });
    await logVersions("mnist-data", 1, "dataset");

    const error = await linkVersion(deps, root, open, "typed", {
      project: "train",
      artifact: "mnist-data",
      version: "v0",
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as Error).message).toBe("collection open/typed holds model versions; train/mnist-data is dataset");
    expect((await getCollection(deps, ref("typed", "open"))).linkCount).toBe(0);
  });

  it("answers 404 for a version that does not exist and creates no collection", async () => {
    await expect(link("ghost", "v9")).rejects.toThrow(NotFoundError);
    await expect(link("ghost", "best")).rejects.toThrow(NotFoundError);
    await expect(getCollection(deps, ref("ghost"))).rejects.toThrow(NotFoundError);
  });

  it("refuses to be asked for latest, which the registry maintains", async () => {
    await expect(link("mnist-classifier", "v0", { aliases: ["latest"] })).rejects.toThrow(ValidationError);
    await expect(getCollection(deps, ref("mnist-classifier"))).rejects.toThrow(NotFoundError);
  });
});

describe("linkVersion when a concurrent link lands between its read and its write", () => {
  function interleave(meanwhile: () => Promise<unknown>) {
    const read = deps.registries.readLinkState.bind(deps.registries);
    vi.spyOn(deps.registries, "readLinkState").mockImplementationOnce(async (...args) => {
      const state = await read(...args);
      await meanwhile();
      return state;
    });
  }

  it("answers the winner's link for the same version, applying the aliases", async () => {
    interleave(() => link("mnist-classifier", "v1"));

    expect(await link("mnist-classifier", "v1", { aliases: ["staging"] })).toEqual({
      version: "v0",
      index: 0,
      created: false,
      aliases: ["latest", "staging"],
    });
    expect((await listCollectionVersions(deps, ref("mnist-classifier"), { limit: 10 })).items).toHaveLength(1);
  });

  it("takes the next number for another version", async () => {
    interleave(() => link("mnist-classifier", "v0"));

    expect(await link("mnist-classifier", "v1")).toMatchObject({ version: "v1", created: true });
    expect(await holders("mnist-classifier", "latest")).toEqual(["v1"]);
  });
});

describe("protected aliases", () => {
  beforeEach(async () => {
    await link("mnist-classifier", "v0");
    await link("mnist-classifier", "v1");
  });

  it("may be set and moved by registry admins only", async () => {
    const refused = await setCollectionAlias(deps, alice, member, ref("mnist-classifier"), "production", "v0").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ForbiddenError);
    expect((refused as Error).message).toContain("protected");
    expect(await holders("mnist-classifier", "production")).toEqual([]);

    expect(await setCollectionAlias(deps, root, admin, ref("mnist-classifier"), "production", "v0")).toEqual({
      alias: "production",
      version: "v0",
      previous: null,
    });
    expect(await setCollectionAlias(deps, root, admin, ref("mnist-classifier"), "production", "latest")).toEqual({
      alias: "production",
      version: "v1",
      previous: "v0",
    });
    expect(await holders("mnist-classifier", "production")).toEqual(["v1"]);
  });

  it("may be set through a link by registry admins only, and a refused link creates nothing", async () => {
    await expect(link("mnist-classifier", "v2", { aliases: ["production"] })).rejects.toThrow(ForbiddenError);
    await expect(link("mnist-classifier", "v0", { aliases: ["staging", "production"] })).rejects.toThrow(ForbiddenError);
    expect((await getCollection(deps, ref("mnist-classifier"))).linkCount).toBe(2);
    expect(await holders("mnist-classifier", "staging")).toEqual([]);

    const linked = await linkAs(root, admin, "mnist-classifier", "v2", { aliases: ["production"] });
    expect(linked).toEqual({ version: "v2", index: 2, created: true, aliases: ["latest", "production"] });
  });

  it("may be removed by registry admins only", async () => {
    await setCollectionAlias(deps, root, admin, ref("mnist-classifier"), "production", "v0");

    await expect(removeCollectionAlias(deps, alice, member, ref("mnist-classifier"), "production")).rejects.toThrow(ForbiddenError);
    expect(await holders("mnist-classifier", "production")).toEqual(["v0"]);

    expect(await removeCollectionAlias(deps, root, admin, ref("mnist-classifier"), "production")).toEqual({
      alias: "production",
      previous: "v0",
    });
    expect(await holders("mnist-classifier", "production")).toEqual([]);
  });

  it("leaves ordinary aliases to registry members", async () => {
    expect(await setCollectionAlias(deps, alice, member, ref("mnist-classifier"), "staging", "v0")).toEqual({
      alias: "staging",
      version: "v0",
      previous: null,
    });
    // Setting it where it already is changes nothing and says so.
    expect(await setCollectionAlias(deps, alice, member, ref("mnist-classifier"), "staging", 0)).toEqual({
      alias: "staging",
      version: "v0",
      previous: "v0",
    });
    expect(await removeCollectionAlias(deps, alice, member, ref("mnist-classifier"), "staging")).toEqual({
      alias: "staging",
      previous: "v0",
    });
    await expect(removeCollectionAlias(deps, alice, member, ref("mnist-classifier"), "staging")).rejects.toThrow(NotFoundError);
  });

  it("never lets anyone set or remove latest", async () => {
    await expect(setCollectionAlias(deps, root, admin, ref("mnist-classifier"), "latest", "v0")).rejects.toThrow(ValidationError);
    await expect(removeCollectionAlias(deps, root, admin, ref("mnist-classifier"), "latest")).rejects.toThrow(ValidationError);
    expect(await holders("mnist-classifier", "latest")).toEqual(["v1"]);
  });
});

describe("resolving a collection version", () => {
  beforeEach(async () => {
    await link("mnist-classifier", "v2");
    await link("mnist-classifier", "v0", { aliases: ["staging"] });
  });

  it.each([["v1"], ["1"], ["staging"], ["latest"]])("by %s", async (selector) => {
    expect(await getCollectionVersion(deps, ref("mnist-classifier"), selector)).toEqual({
      registry: "model",
      collection: "mnist-classifier",
      version: "v1",
      index: 1,
      digest: digestOf("mnist", 0),
      type: "model",
      aliases: ["latest", "staging"],
      tags: [],
      metadata: { epoch: 0 },
      description: "mnist epoch 0",
      createdAt: AT,
      createdBy: "alice",
      size: 100,
      fileCount: 1,
      source: { project: "train", artifact: "mnist", version: "v0", digest: digestOf("mnist", 0) },
    });
  });

  it("resolves a number to the link, not to the source version of that number", async () => {
    expect((await getCollectionVersion(deps, ref("mnist-classifier"), "v0")).source.version).toBe("v2");
  });

  it.each([
    ["a number never linked", "v7"],
    ["an unknown alias", "production"],
  ])("answers 404 for %s", async (_, selector) => {
    await expect(getCollectionVersion(deps, ref("mnist-classifier"), selector)).rejects.toThrow(NotFoundError);
  });

  it("answers 404 in a collection that does not exist", async () => {
    await expect(getCollectionVersion(deps, ref("nope"), "latest")).rejects.toThrow(NotFoundError);
    await expect(listCollectionVersions(deps, ref("nope"), { limit: 10 })).rejects.toThrow(NotFoundError);
  });

  it("lists the source version's files through the collection ref", async () => {
    const entry = entryOf("mnist", 0);
    await deps.blobs.putManifest(digestOf("mnist", 0), [entry]);

    const files = await listCollectionFiles(deps, member, ref("mnist-classifier"), "staging", { limit: 10 });

    expect(files).toEqual({
      items: [{ ...entry, url: `https://fake-s3.test/blobs/${entry.sha256}?filename=weights.bin` }],
      nextCursor: undefined,
      digest: digestOf("mnist", 0),
    });
  });

  it("resolves with no read of its own when the access check read the version the path names", async () => {
    const entry = entryOf("mnist", 0);
    await deps.blobs.putManifest(digestOf("mnist", 0), [entry]);
    const read = await registryAccess(deps, alice, "model", { collection: "mnist-classifier", alias: "staging" });
    const getLinkTarget = vi.spyOn(deps.registries, "getLinkTarget");

    const files = await listCollectionFiles(deps, read, ref("mnist-classifier"), "staging", { limit: 10 });

    expect(files.items.map((f) => f.sha256)).toEqual([entry.sha256]);
    expect(getLinkTarget).not.toHaveBeenCalled();
    // What the access check read answers only for the version it was read for.
    await listCollectionFiles(deps, read, ref("mnist-classifier"), "latest", { limit: 10 }).catch(() => undefined);
    expect(getLinkTarget).toHaveBeenCalledTimes(1);
  });

  it("answers 404 for an alias the access check found missing", async () => {
    const read = await registryAccess(deps, alice, "model", { collection: "mnist-classifier", alias: "nope" });
    await expect(listCollectionFiles(deps, read, ref("mnist-classifier"), "nope", { limit: 10 })).rejects.toThrow(
      "model/mnist-classifier has no alias nope",
    );
  });
});

describe("unlinkVersion", () => {
  beforeEach(async () => {
    await link("mnist-classifier", "v0");
    await link("mnist-classifier", "v1");
    await link("mnist-classifier", "v2");
  });

  it("moves latest back to the previous link and never reuses the number", async () => {
    expect(await unlinkVersion(deps, alice, member, ref("mnist-classifier"), "latest")).toEqual({ unlinked: "v2" });

    expect((await getCollectionVersion(deps, ref("mnist-classifier"), "latest")).version).toBe("v1");
    await expect(getCollectionVersion(deps, ref("mnist-classifier"), "v2")).rejects.toThrow(NotFoundError);
    expect(await getCollection(deps, ref("mnist-classifier"))).toMatchObject({ linkCount: 2, latest: "v1" });

    // The source is free to link again, under a new number.
    expect(await link("mnist-classifier", "v2")).toEqual({
      version: "v3",
      index: 3,
      created: true,
      aliases: ["latest"],
    });
  });

  it("takes the link's aliases with it and leaves latest where it is when it did not hold it", async () => {
    await setCollectionAlias(deps, alice, member, ref("mnist-classifier"), "staging", "v1");

    await unlinkVersion(deps, alice, member, ref("mnist-classifier"), "staging");

    await expect(getCollectionVersion(deps, ref("mnist-classifier"), "staging")).rejects.toThrow(NotFoundError);
    expect(await getCollection(deps, ref("mnist-classifier"))).toMatchObject({
      linkCount: 2,
      latest: "v2",
      aliases: { latest: "v2" },
    });
  });

  it("keeps a link holding a protected alias to the registry's admins: members get a 403, and nothing changes", async () => {
    await setCollectionAlias(deps, root, admin, ref("mnist-classifier"), "production", "v1");
    await setCollectionAlias(deps, alice, member, ref("mnist-classifier"), "staging", "v0");

    await expect(unlinkVersion(deps, alice, member, ref("mnist-classifier"), "v1")).rejects.toThrow(ForbiddenError);
    await expect(unlinkVersion(deps, alice, member, ref("mnist-classifier"), "production")).rejects.toThrow(
      "holds the protected alias production",
    );
    expect(await getCollection(deps, ref("mnist-classifier"))).toMatchObject({ linkCount: 3, aliases: { production: "v1" } });

    // Unprotected aliases go with a member's unlink; the protected one with an admin's.
    expect(await unlinkVersion(deps, alice, member, ref("mnist-classifier"), "staging")).toEqual({ unlinked: "v0" });
    expect(await unlinkVersion(deps, root, admin, ref("mnist-classifier"), "production")).toEqual({ unlinked: "v1" });
    expect((await getCollection(deps, ref("mnist-classifier"))).aliases).toEqual({ latest: "v2" });
  });

  it("asks the store to hold the protected aliases on its write for members, and nothing for admins", async () => {
    const unlink = vi.spyOn(deps.registries, "unlink");
    await unlinkVersion(deps, alice, member, ref("mnist-classifier"), "v0");
    await unlinkVersion(deps, root, admin, ref("mnist-classifier"), "v1");
    expect(unlink.mock.calls.map((call) => call[2])).toEqual([["production"], undefined]);
  });

  it("leaves no latest once every link is gone, and still numbers on", async () => {
    for (const v of ["v1", "v2", "v0"]) await unlinkVersion(deps, alice, member, ref("mnist-classifier"), v);

    expect(await getCollection(deps, ref("mnist-classifier"))).toMatchObject({ linkCount: 0, latest: null, aliases: {} });
    await expect(unlinkVersion(deps, alice, member, ref("mnist-classifier"), "v0")).rejects.toThrow(NotFoundError);
    expect((await link("mnist-classifier", "v0")).version).toBe("v3");
  });
});

describe("tags", () => {
  beforeEach(async () => {
    await link("mnist-classifier", "v0");
  });

  it("adds and removes a collection tag once, reporting whether anything changed", async () => {
    const tag = (add: boolean) => tagCollection(deps, alice, ref("mnist-classifier"), "vision", add);

    expect(await tag(true)).toEqual({ tag: "vision", changed: true });
    expect(await tag(true)).toEqual({ tag: "vision", changed: false });
    expect((await getCollection(deps, ref("mnist-classifier"))).tags).toEqual(["vision"]);
    expect(await tag(false)).toEqual({ tag: "vision", changed: true });
    expect(await tag(false)).toEqual({ tag: "vision", changed: false });
    expect((await getCollection(deps, ref("mnist-classifier"))).tags).toEqual([]);
    expect((await actions("mnist-classifier")).filter((a) => a.startsWith("tag."))).toEqual(["tag.removed", "tag.added"]);
  });

  it("adds and removes a linked version's tag once, reporting whether anything changed", async () => {
    const tag = (add: boolean) => tagCollectionVersion(deps, alice, ref("mnist-classifier"), "latest", "approved", add);

    expect(await tag(true)).toEqual({ tag: "approved", version: "v0", changed: true });
    expect(await tag(true)).toEqual({ tag: "approved", version: "v0", changed: false });
    expect((await getCollectionVersion(deps, ref("mnist-classifier"), "v0")).tags).toEqual(["approved"]);
    expect(await tag(false)).toEqual({ tag: "approved", version: "v0", changed: true });
    expect(await tag(false)).toEqual({ tag: "approved", version: "v0", changed: false });
    expect((await getCollectionVersion(deps, ref("mnist-classifier"), "v0")).tags).toEqual([]);
  });

  it("answers 404 for a collection or version that does not exist", async () => {
    await expect(tagCollection(deps, alice, ref("nope"), "vision", true)).rejects.toThrow(NotFoundError);
    await expect(tagCollectionVersion(deps, alice, ref("mnist-classifier"), "v5", "x", true)).rejects.toThrow(NotFoundError);
  });

  it("finds collections by tag and by any part of the name, ignoring case", async () => {
    await createCollection(deps, root, admin, { name: "resnet-imagenet", type: "model", tags: ["vision"] });
    await createCollection(deps, root, admin, { name: "bert-base", type: "model", tags: ["nlp"] });
    await tagCollection(deps, alice, ref("mnist-classifier"), "vision", true);
    const names = async (query: { tag?: string; q?: string }) =>
      (await listCollections(deps, member, { limit: 10, ...query })).items.map((c) => c.name);

    expect(await names({ tag: "vision" })).toEqual(["mnist-classifier", "resnet-imagenet"]);
    expect(await names({ q: "NET" })).toEqual(["resnet-imagenet"]);
    expect(await names({ tag: "vision", q: "mnist" })).toEqual(["mnist-classifier"]);
    expect(await names({})).toEqual(["bert-base", "mnist-classifier", "resnet-imagenet"]);
  });
});

describe("listRegistries and registry access", () => {
  beforeEach(async () => {
    await createRegistry(deps, root, { name: "secret", visibility: "restricted", protectedAliases: [] });
    await createRegistry(deps, root, { name: "vault", visibility: "restricted", protectedAliases: [] });
  });

  const visible = async (principal: Principal) => (await listRegistries(deps, principal, { limit: 10 })).items.map((r) => [r.name, r.role]);

  it("hides restricted registries from non-members", async () => {
    expect(await visible(bob)).toEqual([["model", "viewer"]]);
    await expect(registryAccess(deps, bob, "secret")).rejects.toThrow(NotFoundError);
    // Exactly like a registry that does not exist.
    const [hidden, missing] = await Promise.all(
      ["secret", "nope"].map((name) => registryAccess(deps, bob, name).catch((e: Error) => e.message)),
    );
    expect(hidden).toBe("registry secret does not exist");
    expect(missing).toBe("registry nope does not exist");
  });

  it("shows a restricted registry to its members with their role", async () => {
    await deps.registries.putMember("secret", "bob", "member", { actor: "root", at: AT });

    expect(await visible(bob)).toEqual([
      ["model", "viewer"],
      ["secret", "member"],
    ]);
    expect((await registryAccess(deps, bob, "secret")).role).toBe("member");
  });

  it("shows every registry to org admins, as admins", async () => {
    expect(await visible(root)).toEqual([
      ["model", "admin"],
      ["secret", "admin"],
      ["vault", "admin"],
    ]);
  });

  it("gives the highest role that applies: a membership never lowers the org-wide viewer role", async () => {
    const vera: Principal = { userId: "vera", orgRole: "viewer" };
    await deps.registries.putMember("model", "vera", "admin", { actor: "root", at: AT });
    expect((await registryAccess(deps, vera, "model")).role).toBe("admin");
    expect((await registryAccess(deps, alice, "model")).role).toBe("member");
    expect((await registryAccess(deps, bob, "model")).role).toBe("viewer");
  });
});

describe("deleteArtifactVersion", () => {
  beforeEach(async () => {
    await createRegistry(deps, root, { name: "open", visibility: "organization", protectedAliases: [] });
    const open = await registryAccess(deps, root, "open");
    await link("mnist-classifier", "v0");
    await link("mnist-classifier", "v1", { aliases: ["staging"] });
    await linkAs(root, open, "digits", "v0");
    await linkAs(root, open, "digits", "v1");
  });

  it("refuses with 409 naming every collection that links the version, and deletes nothing", async () => {
    const error = await deleteArtifactVersion(deps, root, { project: "train", artifact: "mnist" }, "v1", false).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toContain("@model/mnist-classifier:v1");
    expect((error as Error).message).toContain("@open/digits:v1");
    expect(await deps.artifacts.getVersion("train", "mnist", 1)).toBeDefined();
    expect((await getCollection(deps, ref("mnist-classifier"))).linkCount).toBe(2);
  });

  it("with force, unlinks it everywhere with an audit event each, then deletes it", async () => {
    expect(await deleteArtifactVersion(deps, root, { project: "train", artifact: "mnist" }, "v1", true)).toEqual({
      deleted: "v1",
      unlinked: ["@model/mnist-classifier:v1", "@open/digits:v1"],
    });

    expect(await deps.artifacts.getVersion("train", "mnist", 1)).toBeUndefined();
    for (const [registry, collection] of [
      ["model", "mnist-classifier"],
      ["open", "digits"],
    ] as const) {
      expect(await getCollection(deps, ref(collection, registry))).toMatchObject({
        linkCount: 1,
        latest: "v0",
        aliases: { latest: "v0" },
      });
      const [event] = (await listCollectionHistory(deps, ref(collection, registry), { limit: 1 })).items;
      expect(event).toMatchObject({ action: "link.removed", actor: "root", version: "v1" });
    }
    // Versions nobody links are deleted without force.
    await expect(deleteArtifactVersion(deps, root, { project: "train", artifact: "mnist" }, "v2", false)).resolves.toEqual({
      deleted: "v2",
      unlinked: [],
    });
  });

  it("with force, unlinks a link holding a protected alias only for that registry's admins, and refuses before any unlink", async () => {
    await setCollectionAlias(deps, root, admin, ref("mnist-classifier"), "production", "v1");
    // The route asks for org admins; the use case holds the rule whoever calls it.
    await expect(deleteArtifactVersion(deps, alice, { project: "train", artifact: "mnist" }, "v1", true)).rejects.toThrow(
      "@model/mnist-classifier:v1 holds the protected alias production",
    );
    expect(await deps.artifacts.getVersion("train", "mnist", 1)).toBeDefined();
    expect((await getCollection(deps, ref("digits", "open"))).linkCount).toBe(2);
    expect((await getCollection(deps, ref("mnist-classifier"))).aliases).toMatchObject({ production: "v1" });

    const vera: Principal = { userId: "vera", orgRole: "member" };
    await deps.registries.putMember("model", "vera", "admin", { actor: "root", at: AT });
    await deps.registries.putMember("open", "vera", "member", { actor: "root", at: AT });
    expect(await deleteArtifactVersion(deps, vera, { project: "train", artifact: "mnist" }, "v1", true)).toMatchObject({ deleted: "v1" });
  });
});

describe("listCollectionHistory", () => {
  it("records every change with its actor and time, newest first", async () => {
    await link("mnist-classifier", "v0", { aliases: ["staging"] });
    deps.clock.advance(1000);
    await link("mnist-classifier", "v1");
    await setCollectionAlias(deps, alice, member, ref("mnist-classifier"), "staging", "v1");
    await removeCollectionAlias(deps, alice, member, ref("mnist-classifier"), "staging");
    await tagCollection(deps, bob, ref("mnist-classifier"), "vision", true);
    await tagCollectionVersion(deps, bob, ref("mnist-classifier"), "v0", "approved", true);
    await tagCollectionVersion(deps, bob, ref("mnist-classifier"), "v0", "approved", false);
    await unlinkVersion(deps, root, admin, ref("mnist-classifier"), "v1");

    const later = "2025-01-01T00:00:01.000Z";
    const context = { registry: "model", collection: "mnist-classifier" };
    const history = await listCollectionHistory(deps, ref("mnist-classifier"), { limit: 100 });
    expect(history.items).toEqual([
      {
        action: "link.removed",
        actor: "root",
        at: later,
        ...context,
        version: "v1",
        source: expect.objectContaining({ version: "v1" }),
        aliases: ["latest"],
      },
      { action: "tag.removed", actor: "bob", at: later, ...context, version: "v0", tag: "approved" },
      { action: "tag.added", actor: "bob", at: later, ...context, version: "v0", tag: "approved" },
      { action: "tag.added", actor: "bob", at: later, ...context, tag: "vision" },
      { action: "alias.removed", actor: "alice", at: later, ...context, alias: "staging", from: "v1" },
      { action: "alias.moved", actor: "alice", at: later, ...context, alias: "staging", from: "v0", to: "v1" },
      expect.objectContaining({ action: "link.created", actor: "alice", at: later, version: "v1", aliases: ["latest"] }),
      { action: "alias.set", actor: "alice", at: AT, ...context, alias: "staging", to: "v0" },
      expect.objectContaining({ action: "link.created", actor: "alice", at: AT, version: "v0", aliases: ["latest", "staging"] }),
      { action: "collection.created", actor: "alice", at: AT, ...context, type: "model" },
    ]);
  });

  it("pages newest first", async () => {
    await link("mnist-classifier", "v0");
    await link("mnist-classifier", "v1");

    const first = await listCollectionHistory(deps, ref("mnist-classifier"), { limit: 2 });
    const second = await listCollectionHistory(deps, ref("mnist-classifier"), { limit: 2, cursor: first.nextCursor });

    expect([...first.items, ...second.items].map((e) => [e.action, e.version])).toEqual([
      ["link.created", "v1"],
      ["link.created", "v0"],
      ["collection.created", undefined],
    ]);
    expect(second.nextCursor).toBeUndefined();
  });

  it("answers 404 for a collection that does not exist", async () => {
    await expect(listCollectionHistory(deps, ref("nope"), { limit: 10 })).rejects.toThrow(NotFoundError);
  });
});
