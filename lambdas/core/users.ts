import { generateApiKey } from "./api-keys.js";
import { ForbiddenError, NotFoundError, ValidationError } from "./errors.js";
import type { ApiKeyRecord, Page, PageRequest, Principal, UserRecord } from "./model.js";
import type { Clock, IdentityStore, Ids } from "./ports.js";
import type { ApiKeyResponse, CreateApiKeyRequest, CreatedApiKeyResponse, CreateUserRequest, UserResponse } from "../contract/admin.js";

export interface UserDeps {
  identity: IdentityStore;
  clock: Clock;
  ids: Ids;
}

function toUserResponse(user: UserRecord): UserResponse {
  return { id: user.id, name: user.name, role: user.orgRole, createdAt: user.createdAt };
}

function toApiKeyResponse(key: ApiKeyRecord): ApiKeyResponse {
  return {
    id: key.id,
    user: key.userId,
    createdAt: key.createdAt,
    expiresAt: key.expiresAt ?? null,
    revokedAt: key.revokedAt ?? null,
    lastUsedAt: key.lastUsedAt ?? null,
  };
}

export async function createUser(deps: UserDeps, request: CreateUserRequest): Promise<UserResponse> {
  const user: UserRecord = {
    id: request.name,
    name: request.displayName ?? request.name,
    orgRole: request.role,
    status: "active",
    createdAt: deps.clock.now().toISOString(),
  };
  await deps.identity.createUser(user);
  return toUserResponse(user);
}

/** The caller, as the registry knows it: what `mreg login` checks a key with. */
export async function whoami(deps: UserDeps, principal: Principal): Promise<UserResponse> {
  const user = await deps.identity.getUser(principal.userId);
  if (!user) throw new NotFoundError(`user ${principal.userId} does not exist`);
  return toUserResponse(user);
}

export async function listUsers(deps: UserDeps, page: PageRequest): Promise<Page<UserResponse>> {
  const result = await deps.identity.listUsers(page);
  return { items: result.items.map(toUserResponse), nextCursor: result.nextCursor };
}

/** Admins manage everybody's keys; anyone else only their own. */
function assertMayManageKeysOf(principal: Principal, userId: string): void {
  if (principal.orgRole !== "admin" && principal.userId !== userId) {
    throw new ForbiddenError(`${principal.userId} may only manage their own API keys`);
  }
}

export async function createApiKey(deps: UserDeps, principal: Principal, request: CreateApiKeyRequest): Promise<CreatedApiKeyResponse> {
  assertMayManageKeysOf(principal, request.user);
  const now = deps.clock.now();
  if (request.expiresAt !== undefined && Date.parse(request.expiresAt) <= now.getTime()) {
    throw new ValidationError("expiresAt must be in the future");
  }
  const user = await deps.identity.getUser(request.user);
  if (!user) throw new NotFoundError(`user ${request.user} does not exist`);
  const { secret, keyHash } = generateApiKey();
  const record: ApiKeyRecord = {
    id: deps.ids.next(),
    userId: request.user,
    keyHash,
    createdAt: now.toISOString(),
    expiresAt: request.expiresAt === undefined ? undefined : new Date(request.expiresAt).toISOString(),
  };
  await deps.identity.createApiKey(record, user);
  return { ...toApiKeyResponse(record), key: secret };
}

export async function listApiKeys(
  deps: UserDeps,
  principal: Principal,
  query: PageRequest & { user?: string },
): Promise<Page<ApiKeyResponse>> {
  const user = principal.orgRole === "admin" ? query.user : (query.user ?? principal.userId);
  if (user !== undefined) assertMayManageKeysOf(principal, user);
  const result = await deps.identity.listApiKeys(user, query);
  return { items: result.items.map(toApiKeyResponse), nextCursor: result.nextCursor };
}

export async function revokeApiKey(deps: UserDeps, principal: Principal, id: string): Promise<ApiKeyResponse> {
  const key = await deps.identity.getApiKeyById(id);
  // Someone else's key answers like a missing one: ids are not secrets, but nor are they listed.
  if (!key || (principal.orgRole !== "admin" && key.userId !== principal.userId)) {
    throw new NotFoundError(`API key ${id} does not exist`);
  }
  const at = deps.clock.now().toISOString();
  await deps.identity.revokeApiKey(key.keyHash, at);
  return toApiKeyResponse({ ...key, revokedAt: key.revokedAt ?? at });
}
