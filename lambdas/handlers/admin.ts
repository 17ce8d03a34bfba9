import * as z from "zod";
import { createApiKey, createUser, listApiKeys, listMemberships, listUsers, revokeApiKey, updateUser, whoami } from "../core/users.js";
import { ok, type Operations } from "../http/api-handler.js";
import { parse } from "../http/validate.js";
import { apiKeysQuery, createApiKeyRequest, createUserRequest, updateUserRequest } from "../contract/admin.js";
import { name, pageQuery } from "../contract/common.js";

const userParams = z.object({ user: name });

/** The operations of the `admin` function, by the names lambdas/contract/routes.ts gives them. */
export const adminOperations: Operations<"admin"> = {
  whoami: async (request) => ok(await whoami(request.services, request.principal)),
  createUser: async (request) => ({
    status: 201,
    body: await createUser(request.services, parse(createUserRequest, request.body, "user")),
  }),
  listUsers: async (request) => ok(await listUsers(request.services, parse(pageQuery, request.query, "query"))),
  createApiKey: async (request) => ({
    status: 201,
    body: await createApiKey(request.services, request.principal, parse(createApiKeyRequest, request.body, "API key")),
  }),
  listApiKeys: async (request) => ok(await listApiKeys(request.services, request.principal, parse(apiKeysQuery, request.query, "query"))),
  updateUser: async (request) => {
    const { user } = parse(userParams, request.params, "path");
    return ok(await updateUser(request.services, request.principal, user, parse(updateUserRequest, request.body, "user edit")));
  },
  listMemberships: async (request) => {
    const { user } = parse(userParams, request.params, "path");
    return ok(await listMemberships(request.services, user));
  },
  revokeApiKey: async (request) => {
    const { id } = parse(z.object({ id: z.string().min(1).max(64) }), request.params, "path");
    return ok(await revokeApiKey(request.services, request.principal, id));
  },
};
