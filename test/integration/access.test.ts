import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { createDynamoClient } from "../../lambdas/composition.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Permission } from "../../lambdas/core/model.js";
import { LOCAL_TABLE } from "../../local/stack.js";
import { routes } from "../../lambdas/contract/routes.js";
import { fileSpec, uploadPlanned } from "../support/files.js";
import { startTestStack, type TestStack } from "../support/local-stack.js";

let s: TestStack;
const keys: Record<"viewer" | "member" | "admin", string> = { viewer: "", member: "", admin: "" };

async function newUser(name: string, role: "viewer" | "member" | "admin"): Promise<string> {
  expect((await s.api("POST", "/v1/users", { name, role })).status).toBe(201);
  const key = await s.api("POST", "/v1/api-keys", { user: name });
  expect(key.status).toBe(201);
  return key.body.key;
}

beforeAll(async () => {
  s = await startTestStack();
  keys.admin = s.adminKey;
  keys.viewer = await newUser("vera", "viewer");
  keys.member = await newUser("max", "member");
  await s.api("POST", "/v1/registries", { name: "org-reg", visibility: "organization", protectedAliases: ["production"] });
  await s.api("POST", "/v1/registries", { name: "secret", visibility: "restricted" });
  const file = fileSpec("w.bin", "weights");
  const declared = [{ path: file.path, size: file.size, sha256: file.sha256 }];
  const plan = await s.api("POST", "/v1/projects/train/artifacts/net/uploads", { files: declared });
  await uploadPlanned(plan.body, new Map([[file.sha256, file.bytes]]));
  await s.api("POST", "/v1/projects/train/artifacts/net/versions", { type: "model", files: declared });
  // Keeps org-reg non-empty, so the matrix's admin call of DELETE /v1/registries/org-reg is a 409, not a deletion.
  const kept = await s.api("POST", "/v1/registries/org-reg/collections/keep/links", { project: "train", artifact: "net", version: "v0" });
  expect(kept.status).toBe(201);
});
afterAll(async () => {
  await s?.stop();
});

type Caller = "anonymous" | "viewer" | "member" | "admin";

/**
 * Who may call a route of each permission, written out by hand (not derived from the code
 * under test). The registry rows are for an organization-visible registry in which the
 * caller holds no membership: every org user is a viewer there, org admins are admins.
 * A permission missing here fails the matrix, so a new kind of rule cannot slip in unchecked.
 */
const ALLOWED: Record<Permission, Caller[]> = {
  public: ["anonymous", "viewer", "member", "admin"],
  "org:read": ["viewer", "member", "admin"],
  "org:admin": ["admin"],
  // The path names the user "nobody" (PARAMS): only org admins see another user's.
  "user:self": ["admin"],
  "project:read": ["viewer", "member", "admin"],
  "project:write": ["member", "admin"],
  "project:admin": ["admin"],
  "registry:read": ["viewer", "member", "admin"],
  "registry:write": ["admin"],
  "registry:admin": ["admin"],
};

const PARAMS: Record<string, string> = { project: "train", name: "net", registry: "org-reg", v: "v9", user: "nobody", revision: "main" };

/** A trailing `{path+}` takes the rest of the path: one segment stands for it. */
function fill(path: string): string {
  return path.replace(/\{(\w+)\+?\}/g, (_, param: string) => PARAMS[param] ?? "x");
}

/** The registry's error code: in `error.code` on /v1, beside the message (`error`) in the Hugging Face dialect of /hf. */
function errorCode(path: string, body: string): string {
  const parsed = JSON.parse(body);
  return path.startsWith("/hf/") ? parsed.code : parsed.error.code;
}

describe("authorization matrix", () => {
  const callers: Caller[] = ["anonymous", "viewer", "member", "admin"];
  const cases = routes.flatMap((route) => callers.map((caller) => [route.method, route.path, route.permission, caller] as const));

  test("every route declares a permission the matrix knows", () => {
    for (const route of routes) expect(Object.keys(ALLOWED)).toContain(route.permission);
  });

  test.each(cases)("%s %s (%s) as %s", async (method, path, permission, caller) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (caller !== "anonymous") headers.authorization = `Bearer ${keys[caller]}`;
    const response = await fetch(`${s.url}${fill(path)}`, {
      method,
      headers,
      body: method === "GET" || method === "DELETE" || method === "HEAD" ? undefined : "{}",
      redirect: "manual",
    });
    const body = await response.text();
    const allowed = ALLOWED[permission as Permission].includes(caller);
    if (allowed) {
      expect([401, 403], body).not.toContain(response.status);
    } else {
      expect(response.status, body).toBe(caller === "anonymous" ? 401 : 403);
      // A HEAD answer has no body: its status says it all.
      if (method !== "HEAD") expect(errorCode(path, body)).toBe(caller === "anonymous" ? "unauthorized" : "forbidden");
    }
  });
});

describe("restricted registries", () => {
  test("are invisible to non-members until granted, and visible to members by role", async () => {
    expect((await s.api("GET", "/v1/registries/secret", undefined, keys.member)).status).toBe(404);
    const listed = await s.api("GET", "/v1/registries", undefined, keys.member);
    expect(listed.body.items.map((r: { name: string }) => r.name)).not.toContain("secret");
    const link = () =>
      s.api("POST", "/v1/registries/secret/collections/net/links", { project: "train", artifact: "net", version: "v0" }, keys.member);
    expect((await link()).status).toBe(404);

    await s.api("PUT", "/v1/registries/secret/members/max", { role: "viewer" });
    expect((await s.api("GET", "/v1/registries/secret", undefined, keys.member)).body.role).toBe("viewer");
    expect((await link()).status).toBe(403);

    await s.api("PUT", "/v1/registries/secret/members/max", { role: "member" });
    expect((await link()).status).toBe(201);
    const listedNow = await s.api("GET", "/v1/registries", undefined, keys.member);
    expect(listedNow.body.items.map((r: { name: string }) => r.name)).toContain("secret");

    expect((await s.api("DELETE", "/v1/registries/secret/members/max")).status).toBe(200);
    expect((await s.api("GET", "/v1/registries/secret/collections/net", undefined, keys.member)).status).toBe(404);
  });

  test("granting a role to an unknown user is a 404", async () => {
    expect((await s.api("PUT", "/v1/registries/secret/members/ghost", { role: "viewer" })).status).toBe(404);
  });
});

describe("protected aliases", () => {
  test("a registry member may set ordinary aliases but not protected ones; an admin may", async () => {
    await s.api("PUT", "/v1/registries/org-reg/members/max", { role: "member" });
    const linked = await s.api(
      "POST",
      "/v1/registries/org-reg/collections/net/links",
      { project: "train", artifact: "net", version: "v0" },
      keys.member,
    );
    expect(linked.status).toBe(201);
    const alias = (name: string, key: string) =>
      s.api("PUT", `/v1/registries/org-reg/collections/net/aliases/${name}`, { version: "v0" }, key);
    expect((await alias("staging", keys.member)).status).toBe(200);
    const refused = await alias("production", keys.member);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("protected");
    const viaLink = await s.api(
      "POST",
      "/v1/registries/org-reg/collections/net/links",
      { project: "train", artifact: "net", version: "v0", aliases: ["production"] },
      keys.member,
    );
    expect(viaLink.status).toBe(403);
    expect((await alias("production", keys.admin)).status).toBe(200);
    expect((await s.api("DELETE", "/v1/registries/org-reg/collections/net/aliases/production", undefined, keys.member)).status).toBe(403);
  });
});

describe("API keys", () => {
  test("a revoked key is refused at once", async () => {
    const created = await s.api("POST", "/v1/api-keys", { user: "max" });
    expect(created.body.key).toMatch(/^mreg_[A-Za-z0-9_-]{43}$/);
    expect((await s.api("GET", "/v1/projects/train/artifacts", undefined, created.body.key)).status).toBe(200);
    const revoked = await s.api("DELETE", `/v1/api-keys/${created.body.id}`);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    const refused = await s.api("GET", "/v1/projects/train/artifacts", undefined, created.body.key);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toContain("revoked");
  });

  test("an expired key is refused", async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = await s.api("POST", "/v1/api-keys", { user: "vera", expiresAt });
    expect((await s.api("GET", "/v1/projects/train/artifacts", undefined, created.body.key)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1700));
    const refused = await s.api("GET", "/v1/projects/train/artifacts", undefined, created.body.key);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toContain("expired");
  });

  test("malformed and unknown keys are 401 with a JSON error", async () => {
    for (const header of ["Bearer", "Basic abc", "Bearer mreg_unknown-key", "Bearer a b"]) {
      const response = await fetch(`${s.url}/v1/projects/train/artifacts`, { headers: { authorization: header } });
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("unauthorized");
    }
  });

  test("non-admins manage only their own keys; listings never show secrets or hashes", async () => {
    expect((await s.api("POST", "/v1/api-keys", { user: "vera" }, keys.member)).status).toBe(403);
    const own = await s.api("POST", "/v1/api-keys", { user: "max" }, keys.member);
    expect(own.status).toBe(201);
    const listed = await s.api("GET", "/v1/api-keys", undefined, keys.member);
    expect(listed.body.items.length).toBeGreaterThan(0);
    expect(listed.body.items.every((k: { user: string }) => k.user === "max")).toBe(true);
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(own.body.key);
    expect(text).not.toMatch(/keyHash|[0-9a-f]{64}/);
    const othersKey = (await s.api("GET", "/v1/api-keys?user=vera")).body.items[0];
    expect((await s.api("DELETE", `/v1/api-keys/${othersKey.id}`, undefined, keys.member)).status).toBe(404);
  });

  test("the table holds no key material: only SHA-256 hashes", async () => {
    const secret = (await s.api("POST", "/v1/api-keys", { user: "max" })).body.key as string;
    const dynamo = createDynamoClient(s.stack.config);
    const scan = await dynamo.send(new ScanCommand({ TableName: LOCAL_TABLE }));
    const dump = JSON.stringify(scan.Items);
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(secret.slice(5, 30));
    expect(dump).not.toContain(s.adminKey);
  });
});

describe("users", () => {
  test("admins create users; duplicates are 409; others cannot", async () => {
    expect((await s.api("POST", "/v1/users", { name: "vera", role: "viewer" })).status).toBe(409);
    expect((await s.api("POST", "/v1/users", { name: "eve", role: "admin" }, keys.member)).status).toBe(403);
    expect((await s.api("GET", "/v1/me", undefined, keys.member)).body).toMatchObject({ id: "max", role: "member" });
    const users = await s.api("GET", "/v1/users");
    expect(users.body.items.map((u: { id: string }) => u.id)).toEqual(expect.arrayContaining(["admin", "max", "vera"]));
  });
});
