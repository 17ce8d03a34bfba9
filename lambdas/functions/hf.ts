import { hubOperations } from "../handlers/hf.js";
import { createHubHandler } from "../http/hf-handler.js";
import { createLambdaRuntime } from "./runtime.js";

const { services, observability } = createLambdaRuntime();

/** The `hf` function's Lambda entry point: the Hugging Face Hub protocol under /hf. */
export const handler = createHubHandler(hubOperations, services, observability);
