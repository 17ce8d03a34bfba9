import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { FunctionName } from "../contract/routes.js";
import { handler as admin } from "./admin.js";
import { handler as artifacts } from "./artifacts.js";
import { handler as automations } from "./automations.js";
import { handler as health } from "./health.js";
import { handler as lineage } from "./lineage.js";
import { handler as registries } from "./registries.js";

/** Every function of the route table with its entry point; the local server dispatches through it. */
export const handlers: Record<FunctionName, (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>> = {
  admin,
  artifacts,
  automations,
  health,
  lineage,
  registries,
};
