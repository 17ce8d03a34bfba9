import { ConflictError, ValidationError } from "./errors.js";
import { generateApiKey, hashApiKey, isWellFormedApiKey } from "./api-keys.js";
import type { UserRecord } from "./model.js";
import type { Clock, IdentityStore, Ids } from "./ports.js";

export const BOOTSTRAP_ADMIN = "admin";

/**
 * Creates the first org admin and its key when the registry has none. With `secret` the
 * key is the given one (MREG_ADMIN_KEY); otherwise a new one is generated and returned.
 */
export async function bootstrapAdmin(
  deps: { identity: IdentityStore; clock: Clock; ids: Ids },
  secret?: string,
): Promise<{ created: boolean; secret?: string }> {
  if (secret !== undefined && !isWellFormedApiKey(secret)) {
    throw new ValidationError("MREG_ADMIN_KEY must be 1 to 512 printable characters without spaces");
  }
  const at = deps.clock.now().toISOString();
  let admin: UserRecord | undefined = { id: BOOTSTRAP_ADMIN, name: "Administrator", orgRole: "admin", status: "active", createdAt: at };
  let created = true;
  try {
    await deps.identity.createUser(admin);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    created = false;
    admin = await deps.identity.getUser(BOOTSTRAP_ADMIN);
    if (!admin) throw error;
  }
  if (secret !== undefined) {
    const keyHash = hashApiKey(secret);
    if (!(await deps.identity.getApiKey(keyHash))) {
      await deps.identity.createApiKey({ id: deps.ids.next(), userId: BOOTSTRAP_ADMIN, keyHash, createdAt: at }, admin);
    }
    return { created };
  }
  if (!created) return { created };
  const key = generateApiKey();
  await deps.identity.createApiKey({ id: deps.ids.next(), userId: BOOTSTRAP_ADMIN, keyHash: key.keyHash, createdAt: at }, admin);
  return { created, secret: key.secret };
}
