import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { UnauthorizedError } from "./errors.js";
import type { ApiKeyRecord, Principal } from "./model.js";
import type { Clock, MetadataStore } from "./ports.js";

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

export async function authenticate(
  deps: { metadata: MetadataStore; clock: Clock },
  authorization: string | undefined,
): Promise<Principal> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) throw new UnauthorizedError("missing or malformed Authorization header; expected 'Bearer <api key>'");
  const secret = match[1]!;
  if (!isWellFormedApiKey(secret)) throw new UnauthorizedError("API key is malformed");
  const keyHash = hashApiKey(secret);
  const key = await deps.metadata.getApiKeyByHash(keyHash);
  // The lookup is by hash; comparing the stored hash in constant time keeps it honest anyway.
  if (!key || !timingSafeEqual(Buffer.from(key.keyHash, "hex"), Buffer.from(keyHash, "hex"))) {
    throw new UnauthorizedError("API key is not valid");
  }
  const now = deps.clock.now();
  if (key.revokedAt) throw new UnauthorizedError("API key has been revoked");
  if (key.expiresAt && Date.parse(key.expiresAt) <= now.getTime()) throw new UnauthorizedError("API key has expired");
  const user = await deps.metadata.getUser(key.userId);
  if (!user) throw new UnauthorizedError("API key belongs to no user");
  if (shouldTouch(key, now)) await deps.metadata.touchApiKey(keyHash, now.toISOString());
  return { userId: user.id, orgRole: user.orgRole };
}

function shouldTouch(key: ApiKeyRecord, now: Date): boolean {
  return !key.lastUsedAt || now.getTime() - Date.parse(key.lastUsedAt) > TOUCH_INTERVAL_MS;
}
