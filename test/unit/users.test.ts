import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoIdentityStore } from "../../lambdas/adapters/dynamodb/identity-store.js";
import { authenticate, hashApiKey } from "../../lambdas/core/api-keys.js";
import { registryAccess } from "../../lambdas/core/authorize.js";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../lambdas/core/errors.js";
import { grantMember, revokeMember } from "../../lambdas/core/members.js";
import type { Principal } from "../../lambdas/core/model.js";
import { createApiKey, createUser, listApiKeys, listUsers, revokeApiKey } from "../../lambdas/core/users.js";
import { FixedClock, CounterIds, fakeDeps, type FakeDeps } from "../support/fakes.js";

const AT = "2025-01-01T00:00:00.000Z";
const KEY_FORMAT = /^mreg_[A-Za-z0-9_-]{43}$/;
const root: Principal = { userId: "root", orgRole: "admin" };
const max: Principal = { userId: "max", orgRole: "member" };
const vera: Principal = { userId: "vera", orgRole: "viewer" };

let deps: FakeDeps;

beforeEach(async () => {
  deps = fakeDeps();
  for (const user of [root, max, vera]) await createUser(deps, { name: user.userId, role: user.orgRole });
});

describe("createUser", () => {
  it("creates a user named by its handle, with an optional display name", async () => {
    expect(await createUser(deps, { name: "eve", role: "viewer", displayName: "Eve Example" })).toEqual({
      id: "eve",
      name: "Eve Example",
      role: "viewer",
      status: "active",
      createdAt: AT,
    });
    expect(await deps.identity.getUser("max")).toEqual({ id: "max", name: "max", orgRole: "member", status: "active", createdAt: AT });
  });

  it("refuses a handle that is taken with 409 and keeps the first user", async () => {
    await expect(createUser(deps, { name: "vera", role: "admin" })).rejects.toThrow(ConflictError);
    expect((await deps.identity.getUser("vera"))?.orgRole).toBe("viewer");
  });

  it("lists users by handle, one page at a time", async () => {
    const first = await listUsers(deps, { limit: 2 });
    const second = await listUsers(deps, { limit: 2, cursor: first.nextCursor });
    expect([...first.items, ...second.items].map((u) => [u.id, u.role])).toEqual([
      ["max", "member"],
      ["root", "admin"],
      ["vera", "viewer"],
    ]);
    expect(second.nextCursor).toBeUndefined();
  });
});

describe("createApiKey", () => {
  it("gives an admin a key for anyone, shown once, and stores only its SHA-256", async () => {
    const created = await createApiKey(deps, root, { user: "vera" });

    expect(created).toEqual({
      id: "id-000001",
      user: "vera",
      createdAt: AT,
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
      key: expect.stringMatching(KEY_FORMAT),
    });
    const stored = [...deps.identity.apiKeys.values()];
    expect(stored).toEqual([
      { id: "id-000001", userId: "vera", keyHash: hashApiKey(created.key), createdAt: AT, orgRole: "viewer", userStatus: "active" },
    ]);
    expect(hashApiKey(created.key)).toMatch(/^[0-9a-f]{64}$/);
    const dump = JSON.stringify([...deps.identity.apiKeys]);
    expect(dump).not.toContain(created.key);
    expect(dump).not.toContain(created.key.slice(5));
    expect(dump).not.toContain(created.key.slice(5, 25));
    expect(await authenticate(deps, `Bearer ${created.key}`)).toEqual({ userId: "vera", orgRole: "viewer" });
  });

  it("generates a different key every time", async () => {
    const a = await createApiKey(deps, max, { user: "max" });
    const b = await createApiKey(deps, max, { user: "max" });
    expect(a.key).not.toBe(b.key);
    expect(a.id).not.toBe(b.id);
  });

  it("lets anyone else create keys only for themselves", async () => {
    expect((await createApiKey(deps, vera, { user: "vera" })).user).toBe("vera");

    await expect(createApiKey(deps, max, { user: "vera" })).rejects.toThrow(ForbiddenError);
    await expect(createApiKey(deps, max, { user: "root" })).rejects.toThrow(ForbiddenError);
    expect([...deps.identity.apiKeys.values()].map((k) => k.userId)).toEqual(["vera"]);
  });

  it("answers 404 for a user that does not exist", async () => {
    await expect(createApiKey(deps, root, { user: "ghost" })).rejects.toThrow(NotFoundError);
    expect(deps.identity.apiKeys.size).toBe(0);
  });

  it.each([
    ["in the past", "2024-12-31T23:59:59Z"],
    ["now", AT],
  ])("refuses an expiry %s with 400", async (_, expiresAt) => {
    await expect(createApiKey(deps, root, { user: "max", expiresAt })).rejects.toThrow(ValidationError);
    expect(deps.identity.apiKeys.size).toBe(0);
  });

  it("stores a future expiry in UTC, and the key stops working then", async () => {
    const created = await createApiKey(deps, root, { user: "max", expiresAt: "2025-01-01T02:00:00+01:00" });

    expect(created.expiresAt).toBe("2025-01-01T01:00:00.000Z");
    await expect(authenticate(deps, `Bearer ${created.key}`)).resolves.toMatchObject({ userId: "max" });
    deps.clock.advance(60 * 60 * 1000);
    await expect(authenticate(deps, `Bearer ${created.key}`)).rejects.toThrow("expired");
  });
});

describe("listApiKeys", () => {
  beforeEach(async () => {
    await createApiKey(deps, root, { user: "max" });
    await createApiKey(deps, root, { user: "vera" });
    await createApiKey(deps, root, { user: "max" });
  });

  const owners = async (principal: Principal, user?: string) =>
    (await listApiKeys(deps, principal, { limit: 10, user })).items.map((k) => [k.id, k.user]);

  it("shows anyone but an admin only their own keys", async () => {
    expect(await owners(max)).toEqual([
      ["id-000001", "max"],
      ["id-000003", "max"],
    ]);
    expect(await owners(max, "max")).toEqual(await owners(max));
    await expect(owners(max, "vera")).rejects.toThrow(ForbiddenError);
  });

  it("shows an admin everybody's keys, or one user's", async () => {
    expect(await owners(root)).toEqual([
      ["id-000001", "max"],
      ["id-000002", "vera"],
      ["id-000003", "max"],
    ]);
    expect(await owners(root, "vera")).toEqual([["id-000002", "vera"]]);
  });

  it("never shows a secret or a hash", async () => {
    const page = await listApiKeys(deps, root, { limit: 10 });
    for (const item of page.items) {
      expect(Object.keys(item).sort()).toEqual(["createdAt", "expiresAt", "id", "lastUsedAt", "revokedAt", "user"]);
    }
    expect(JSON.stringify(page)).not.toMatch(/[0-9a-f]{64}|mreg_/);
  });
});

describe("revokeApiKey", () => {
  let maxKey: { id: string; key: string };

  beforeEach(async () => {
    maxKey = await createApiKey(deps, max, { user: "max" });
  });

  it("revokes one's own key, which then fails authentication", async () => {
    deps.clock.advance(1000);

    expect(await revokeApiKey(deps, max, maxKey.id)).toMatchObject({
      id: maxKey.id,
      user: "max",
      revokedAt: "2025-01-01T00:00:01.000Z",
    });

    await expect(authenticate(deps, `Bearer ${maxKey.key}`)).rejects.toThrow("revoked");
  });

  it("answers 404 for someone else's key to anyone but an admin, and leaves it working", async () => {
    await expect(revokeApiKey(deps, vera, maxKey.id)).rejects.toThrow(NotFoundError);
    await expect(authenticate(deps, `Bearer ${maxKey.key}`)).resolves.toMatchObject({ userId: "max" });

    await revokeApiKey(deps, root, maxKey.id);
    await expect(authenticate(deps, `Bearer ${maxKey.key}`)).rejects.toThrow("revoked");
  });

  it("keeps the first revocation time when revoked again", async () => {
    await revokeApiKey(deps, max, maxKey.id);
    deps.clock.advance(5000);
    expect((await revokeApiKey(deps, root, maxKey.id)).revokedAt).toBe(AT);
  });

  it("answers 404 for a key that does not exist", async () => {
    await expect(revokeApiKey(deps, root, "id-999999")).rejects.toThrow(NotFoundError);
  });
});

describe("registry members", () => {
  beforeEach(async () => {
    await deps.registries.createRegistry({
      name: "secret",
      visibility: "restricted",
      protectedAliases: [],
      createdAt: AT,
      createdBy: "root",
    });
  });

  const secret = () => registryAccess(deps, root, "secret");

  it("grants a role that makes a restricted registry visible, and revoking hides it again", async () => {
    await expect(registryAccess(deps, max, "secret")).rejects.toThrow(NotFoundError);

    expect(await grantMember(deps, root, await secret(), "max", "viewer")).toEqual({
      registry: "secret",
      user: "max",
      role: "viewer",
    });
    expect((await registryAccess(deps, max, "secret")).role).toBe("viewer");
    await grantMember(deps, root, await secret(), "max", "member");
    expect((await registryAccess(deps, max, "secret")).role).toBe("member");

    expect(await revokeMember(deps, root, await secret(), "max")).toEqual({
      registry: "secret",
      user: "max",
      revoked: true,
    });
    await expect(registryAccess(deps, max, "secret")).rejects.toThrow(NotFoundError);
    expect(deps.registries.registryEvents.map((e) => [e.action, e.actor, e.user ?? null])).toEqual([
      ["registry.created", "root", null],
      ["member.granted", "root", "max"],
      ["member.granted", "root", "max"],
      ["member.revoked", "root", "max"],
    ]);
  });

  it("answers 404 for a user that does not exist and grants nothing", async () => {
    await expect(grantMember(deps, root, await secret(), "ghost", "admin")).rejects.toThrow(NotFoundError);
    expect(await deps.registries.membershipsOf("ghost")).toEqual(new Map());
  });

  it("answers 404 when revoking someone who is no member", async () => {
    const error = await revokeMember(deps, root, await secret(), "vera").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toContain("vera is not a member of registry secret");
  });
});

describe("with the DynamoDB store", () => {
  const ddb = mockClient(DynamoDBDocumentClient);

  beforeEach(() => {
    ddb.reset();
  });

  it("writes a key item that holds the hash, never the secret, with the role and status it read, while the user keeps them", async () => {
    ddb.on(GetCommand).resolves({
      Item: { PK: "USER#max", SK: "USER", id: "max", name: "max", orgRole: "member", status: "active", createdAt: AT },
    });
    ddb.on(TransactWriteCommand).resolves({});
    const identity = new DynamoIdentityStore(DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })), "mreg");

    const created = await createApiKey({ identity, clock: new FixedClock(), ids: new CounterIds("key-") }, max, {
      user: "max",
    });

    const keyHash = hashApiKey(created.key);
    expect(ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems)).toEqual([
      [
        {
          Put: {
            TableName: "mreg",
            Item: {
              PK: `APIKEY#${keyHash}`,
              SK: "APIKEY",
              entity: "apiKey",
              GSI1PK: "USER#max#APIKEYS",
              GSI1SK: "key-000001",
              GSI2PK: "APIKEYS",
              GSI2SK: "key-000001",
              id: "key-000001",
              userId: "max",
              keyHash,
              createdAt: AT,
              expiresAt: undefined,
              orgRole: "member",
              userStatus: "active",
            },
            ConditionExpression: "attribute_not_exists(PK)",
          },
        },
        {
          Update: {
            TableName: "mreg",
            Key: { PK: "USER#max", SK: "USER" },
            UpdateExpression: "ADD keyHashes :hash",
            ConditionExpression:
              "orgRole = :role AND (attribute_not_exists(#status) OR #status = :status) AND (attribute_not_exists(keyHashes) OR size(keyHashes) < :max)",
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: { ":hash": new Set([keyHash]), ":role": "member", ":status": "active", ":max": 98 },
          },
        },
      ],
    ]);
    const sent = JSON.stringify(ddb.calls().map((c) => c.args[0].input));
    expect(sent).not.toContain(created.key);
    expect(sent).not.toContain(created.key.slice(5, 25));
  });
});
