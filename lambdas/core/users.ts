import { generateApiKey } from "./api-keys.js";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "./errors.js";
import type { ApiKeyRecord, Page, PageRequest, Principal, UserRecord } from "./model.js";
import type { Clock, IdentityStore, Ids, RegistryStore } from "./ports.js";
import type {
  ApiKeyResponse,
  CreateApiKeyRequest,
  CreatedApiKeyResponse,
  CreateUserRequest,
  MembershipsResponse,
  UpdateUserRequest,
  UserResponse,
} from "../contract/admin.js";

export interface UserDeps {
  identity: IdentityStore;
  clock: Clock;
  ids: Ids;
}

function toUserResponse(user: UserRecord): UserResponse {
  return { id: user.id, name: user.name, role: user.orgRole, status: user.status, createdAt: user.createdAt };
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
  if (user.status !== "active") throw new ConflictError(`user ${request.user} is deactivated: reactivate the user before giving it keys`);
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
  await deps.identity.revokeApiKey(key, at);
  return toApiKeyResponse({ ...key, revokedAt: key.revokedAt ?? at });
}

/**
 * Changes a user's org role or status (org admins). The store rewrites the user and every
 * key it holds in one transaction, so the next request with any of its keys is judged by
 * the new role (a 403 where the old one allowed) or refused (401, deactivated). An admin
 * does not change themselves: that could leave the organization without an active admin.
 */
export async function updateUser(deps: UserDeps, principal: Principal, userId: string, request: UpdateUserRequest): Promise<UserResponse> {
  if (userId === principal.userId) {
    throw new ForbiddenError(`${principal.userId} may not change their own role or status: ask another org admin`);
  }
  const at = deps.clock.now().toISOString();
  const { after } = await deps.identity.updateUser(userId, { actor: principal.userId, at }, (current) => ({
    orgRole: request.role ?? current.orgRole,
    status: request.status ?? current.status,
  }));
  return toUserResponse(after);
}

/** The registries a user is a member of, with the role each grants (the route admits the user and org admins). */
export async function listMemberships(
  deps: { identity: IdentityStore; registries: RegistryStore },
  userId: string,
): Promise<MembershipsResponse> {
  const [user, memberships] = await Promise.all([deps.identity.getUser(userId), deps.registries.membershipsOf(userId)]);
  if (!user) throw new NotFoundError(`user ${userId} does not exist`);
  const items = [...memberships].map(([registry, role]) => ({ registry, role })).sort((a, b) => (a.registry < b.registry ? -1 : 1));
  return { user: user.id, orgRole: user.orgRole, items };
}
