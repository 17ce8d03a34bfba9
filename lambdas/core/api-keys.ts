import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { UnauthorizedError } from "./errors.js";
import type { ApiKeyRecord, OrgRole, Principal, UserStatus } from "./model.js";
import type { Clock, IdentityStore } from "./ports.js";

export const API_KEY_PREFIX = "mreg_";
/**
 * Generated keys are `mreg_` + 43 base64url characters, but an operator may choose the
 * bootstrap key (MREG_ADMIN_KEY), so any printable token is accepted and judged by its hash.
 */
const KEY_PATTERN = /^[\x21-\x7e]{1,512}$/;
/** lastUsedAt is refreshed at most this often, so reads do not turn into writes. */
const TOUCH_INTERVAL_MS = 5 * 60 * 1000;

export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** A 256-bit random secret, recognisable by its prefix; only its hash is ever stored. */
export function generateApiKey(): { secret: string; keyHash: string } {
  const secret = API_KEY_PREFIX + randomBytes(32).toString("base64url");
  return { secret, keyHash: hashApiKey(secret) };
}

export function isWellFormedApiKey(secret: string): boolean {
  return KEY_PATTERN.test(secret);
}

/** One read: the key carries its user's role and status (see lambdas/adapters/dynamodb/identity-store.ts). */
export async function authenticate(deps: { identity: IdentityStore; clock: Clock }, authorization: string | undefined): Promise<Principal> {
  return authenticateKey(deps, bearerKeyHash(authorization));
}

/** The hash of the bearer key a request presents; 401 for a missing or malformed one. */
export function bearerKeyHash(authorization: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) throw new UnauthorizedError("missing or malformed Authorization header; expected 'Bearer <api key>'");
  const secret = match[1]!;
  if (!isWellFormedApiKey(secret)) throw new UnauthorizedError("API key is malformed");
  return hashApiKey(secret);
}

export async function authenticateKey(deps: { identity: IdentityStore; clock: Clock }, keyHash: string): Promise<Principal> {
  const key = await deps.identity.getApiKey(keyHash);
  // The lookup is by hash; comparing the stored hash in constant time keeps it honest anyway.
  if (!key || !timingSafeEqual(Buffer.from(key.keyHash, "hex"), Buffer.from(keyHash, "hex"))) {
    throw new UnauthorizedError("API key is not valid");
  }
  const now = deps.clock.now();
  if (key.revokedAt) throw new UnauthorizedError("API key has been revoked");
  if (key.expiresAt && Date.parse(key.expiresAt) <= now.getTime()) throw new UnauthorizedError("API key has expired");
  const holder = await holderOf(deps.identity, key);
  if (!holder) throw new UnauthorizedError("API key belongs to no user");
  if (holder.status !== "active") throw new UnauthorizedError("API key belongs to a deactivated user");
  if (shouldTouch(key, now)) await deps.identity.touchApiKey(keyHash, now.toISOString());
  return { userId: key.userId, orgRole: holder.orgRole };
}

/** The role and status the key carries; a key stored before it carried them reads its user. */
async function holderOf(identity: IdentityStore, key: ApiKeyRecord): Promise<{ orgRole: OrgRole; status: UserStatus } | undefined> {
  if (key.orgRole !== undefined && key.userStatus !== undefined) return { orgRole: key.orgRole, status: key.userStatus };
  const user = await identity.getUser(key.userId);
  return user && { orgRole: user.orgRole, status: user.status };
}

function shouldTouch(key: ApiKeyRecord, now: Date): boolean {
  return !key.lastUsedAt || now.getTime() - Date.parse(key.lastUsedAt) > TOUCH_INTERVAL_MS;
}
