import { createApiHandler, ok } from "../http/api-handler.js";

export const handler = createApiHandler("health", {
  health: async () => ok({ status: "ok" }),
});
