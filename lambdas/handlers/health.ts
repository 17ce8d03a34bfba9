import { openApiDocument } from "../contract/openapi.js";
import { ok, type Operations } from "../http/api-handler.js";

/** The operations of the `health` function, by the names lambdas/contract/routes.ts gives them. */
export const healthOperations: Operations<"health"> = {
  health: async () => ok({ status: "ok" }),
  // Built from the route table and the schemas on first use, then kept for the container's life.
  openapi: async () => ok(openApiDocument()),
};
