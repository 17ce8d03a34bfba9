import { beforeEach, describe, expect, it, vi } from "vitest";
import { authenticate, generateApiKey, hashApiKey } from "../../lambdas/core/api-keys.js";
import { UnauthorizedError } from "../../lambdas/core/errors.js";
import { fakeDeps, type FakeDeps } from "../support/fakes.js";

let deps: FakeDeps;
let secret: string;

beforeEach(async () => {
  deps = fakeDeps();
  const alice = { id: "alice", name: "Alice", orgRole: "member", status: "active", createdAt: "2024-01-01T00:00:00.000Z" } as const;
  await deps.identity.createUser(alice);
  const key = generateApiKey();
  secret = key.secret;
  await deps.identity.createApiKey({ id: "k1", userId: "alice", keyHash: key.keyHash, createdAt: "2024-01-01T00:00:00.000Z" }, alice);
});

const bearer = (s: string) => `Bearer ${s}`;

describe("authenticate", () => {
  it("answers the key's user and org role from the key alone", async () => {
    const getUser = vi.spyOn(deps.identity, "getUser");
    expect(await authenticate(deps, bearer(secret))).toEqual({ userId: "alice", orgRole: "member" });
    expect(await authenticate(deps, `bearer   ${secret}  `)).toEqual({ userId: "alice", orgRole: "member" });
    expect(getUser).not.toHaveBeenCalled();
  });

  it("generates distinct prefixed keys and stores only their hash", () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.secret).toMatch(/^mreg_[A-Za-z0-9_-]{43}$/);
    expect(a.secret).not.toBe(b.secret);
    expect(a.keyHash).toBe(hashApiKey(a.secret));
    expect(a.keyHash).not.toContain(a.secret);
  });

  it.each([
    ["no header", undefined],
    ["an empty header", ""],
    ["another scheme", `Basic ${Buffer.from("alice:pw").toString("base64")}`],
    ["a bare key", "mreg_abc"],
    ["a key with a space inside", "Bearer mreg_a b"],
    ["a key with a control character", "Bearer mreg_\u0007abc"],
    ["a key longer than 512 characters", `Bearer ${"x".repeat(513)}`],
  ])("refuses %s", async (_, header) => {
    await expect(authenticate(deps, header)).rejects.toThrow(UnauthorizedError);
  });

  it("refuses a key it does not know", async () => {
    await expect(authenticate(deps, bearer(generateApiKey().secret))).rejects.toThrow("API key is not valid");
  });

  it("refuses a revoked key", async () => {
    deps.identity.apiKeys.get(hashApiKey(secret))!.revokedAt = "2024-06-01T00:00:00.000Z";
    await expect(authenticate(deps, bearer(secret))).rejects.toThrow("revoked");
  });

  it("refuses a key from the moment it expires", async () => {
    deps.identity.apiKeys.get(hashApiKey(secret))!.expiresAt = "2025-01-01T00:00:01.000Z";
    await expect(authenticate(deps, bearer(secret))).resolves.toMatchObject({ userId: "alice" });
    deps.clock.advance(1000);
    await expect(authenticate(deps, bearer(secret))).rejects.toThrow("expired");
  });

  it("refuses a key whose user is deactivated", async () => {
    deps.identity.apiKeys.get(hashApiKey(secret))!.userStatus = "deactivated";
    await expect(authenticate(deps, bearer(secret))).rejects.toThrow("deactivated");
  });

  describe("a key stored before keys carried their user's role", () => {
    beforeEach(() => {
      const key = deps.identity.apiKeys.get(hashApiKey(secret))!;
      delete key.orgRole;
      delete key.userStatus;
    });

    it("reads its user's role", async () => {
      deps.identity.users.get("alice")!.orgRole = "viewer";
      expect(await authenticate(deps, bearer(secret))).toEqual({ userId: "alice", orgRole: "viewer" });
    });

    it("is refused when its user is gone", async () => {
      deps.identity.users.delete("alice");
      await expect(authenticate(deps, bearer(secret))).rejects.toThrow(UnauthorizedError);
    });
  });

  it("records lastUsedAt at most once every five minutes", async () => {
    const touch = vi.spyOn(deps.identity, "touchApiKey");
    const lastUsed = () => deps.identity.apiKeys.get(hashApiKey(secret))!.lastUsedAt;

    await authenticate(deps, bearer(secret));
    expect(lastUsed()).toBe("2025-01-01T00:00:00.000Z");

    deps.clock.advance(5 * 60 * 1000);
    await authenticate(deps, bearer(secret));
    expect(touch).toHaveBeenCalledTimes(1);

    deps.clock.advance(1);
    await authenticate(deps, bearer(secret));
    expect(touch).toHaveBeenCalledTimes(2);
    expect(lastUsed()).toBe("2025-01-01T00:05:00.001Z");
  });
});
