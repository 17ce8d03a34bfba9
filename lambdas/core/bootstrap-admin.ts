import { ConflictError, ValidationError } from "./errors.js";
import { generateApiKey, hashApiKey, isWellFormedApiKey } from "./api-keys.js";
import type { RegistryRecord, UserRecord } from "./model.js";
import type { Clock, IdentityStore, Ids, RegistryStore } from "./ports.js";

export const BOOTSTRAP_ADMIN = "admin";

/**
 * The registries every organization starts with, as W&B's do: `link_model(path,
 * registered_model_name=…)` links into `model` on a fresh install. `production` is
 * protected there, so promoting a model stays an admin's decision.
 */
export const DEFAULT_REGISTRIES: Omit<RegistryRecord, "createdAt" | "createdBy">[] = [
  {
    name: "model",
    description: "Models for production and hand-over",
    visibility: "organization",
    artifactTypes: ["model"],
    protectedAliases: ["production"],
  },
  {
    name: "dataset",
    description: "Curated datasets",
    visibility: "organization",
    artifactTypes: ["dataset"],
    protectedAliases: [],
  },
];

/** Creates each default registry that does not exist; one that does is left exactly as it is. */
export async function ensureDefaultRegistries(deps: { registries: RegistryStore; clock: Clock }): Promise<string[]> {
  const created: string[] = [];
  for (const registry of DEFAULT_REGISTRIES) {
    // The create's own condition decides: an existing registry is a conflict, left as it is.
    try {
      await deps.registries.createRegistry({ ...registry, createdAt: deps.clock.now().toISOString(), createdBy: BOOTSTRAP_ADMIN });
      created.push(registry.name);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  return created;
}

/**
 * Creates the first org admin and its key when the registry has none, and the default
 * registries that are missing (so an existing deployment gains them at its next bootstrap).
 * With `secret` the key is the given one (MREG_ADMIN_KEY); otherwise a new one is generated
 * and returned.
 */
export async function bootstrapAdmin(
  deps: { identity: IdentityStore; registries: RegistryStore; clock: Clock; ids: Ids },
  secret?: string,
): Promise<{ created: boolean; secret?: string; registries: string[] }> {
  if (secret !== undefined && !isWellFormedApiKey(secret)) {
    throw new ValidationError("MREG_ADMIN_KEY must be 1 to 512 printable characters without spaces");
  }
  const registries = await ensureDefaultRegistries(deps);
  return { ...(await bootstrapAdminUser(deps, secret)), registries };
}

async function bootstrapAdminUser(
  deps: { identity: IdentityStore; clock: Clock; ids: Ids },
  secret?: string,
): Promise<{ created: boolean; secret?: string }> {
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
