import { ok, type Operations } from "../http/api-handler.js";

/** The operations of the `health` function, by the names lambdas/contract/routes.ts gives them. */
export const healthOperations: Operations<"health"> = {
  health: async () => ok({ status: "ok" }),
};
