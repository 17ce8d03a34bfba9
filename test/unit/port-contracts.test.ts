import { describe } from "vitest";
import { portContracts } from "../contract/index.js";
import { fakeDeps } from "../support/fakes.js";

describe("in-memory fakes", () => {
  portContracts(async () => fakeDeps());
});
