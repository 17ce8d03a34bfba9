import { ConflictError, ValidationError } from "./errors.js";
import { generateApiKey, hashApiKey, isWellFormedApiKey } from "./api-keys.js";
import type { Clock, Ids, MetadataStore } from "./ports.js";

export const BOOTSTRAP_ADMIN = "admin";

/**
 * Creates the first org admin and its key when the registry has none. With `secret` the
 * key is the given one (MREG_ADMIN_KEY); otherwise a new one is generated and returned.
 */
export async function bootstrapAdmin(
  deps: { metadata: MetadataStore; clock: Clock; ids: Ids },
  secret?: string,
): Promise<{ created: boolean; secret?: string }> {
  if (secret !== undefined && !isWellFormedApiKey(secret)) {
    throw new ValidationError("MREG_ADMIN_KEY must be 1 to 512 printable characters without spaces");
  }
  const at = deps.clock.now().toISOString();
  let created = true;
  try {
    await deps.metadata.putUser({ id: BOOTSTRAP_ADMIN, name: "Administrator", orgRole: "admin", createdAt: at });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    created = false;
  }
  if (secret !== undefined) {
    const keyHash = hashApiKey(secret);
    if (!(await deps.metadata.getApiKeyByHash(keyHash))) {
      await deps.metadata.putApiKey({ id: deps.ids.next(), userId: BOOTSTRAP_ADMIN, keyHash, createdAt: at });
    }
    return { created };
  }
  if (!created) return { created };
  const key = generateApiKey();
  await deps.metadata.putApiKey({ id: deps.ids.next(), userId: BOOTSTRAP_ADMIN, keyHash: key.keyHash, createdAt: at });
  return { created, secret: key.secret };
}
