import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    // The CLI tests run the built bin (clients/node/dist), the browser tests the built app
    // (web/dist): both are built here from the current source.
    globalSetup: ["test/support/build-client.ts", "test/support/build-web.ts"],
    // Each integration file starts its own DynamoDB Local (a JVM) and S3 emulator.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 90_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
