// Lint: typescript-eslint's recommended rules, and the walls between the rooms
// (see docs/architecture.md), checked by eslint-plugin-boundaries on resolved imports.
import js from "@eslint/js";
import boundaries from "eslint-plugin-boundaries";
import globals from "globals";
import tseslint from "typescript-eslint";

/** Where code runs decides what it may import. */
const elements = [
  { type: "core", pattern: "lambdas/core" },
  { type: "contract", pattern: "lambdas/contract" },
  { type: "adapters", pattern: "lambdas/adapters" },
  { type: "http", pattern: "lambdas/http" },
  { type: "handlers", pattern: "lambdas/handlers" },
  // The composition root and configuration: lambdas/*.ts (the more specific rooms above match first).
  { type: "composition", pattern: "lambdas" },
  { type: "client", pattern: "clients/node" },
  { type: "local", pattern: "local" },
  { type: "infra", pattern: "infra" },
];

export default tseslint.config(
  { ignores: ["**/node_modules/", "**/dist/", "cdk.out/", "bench/results/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    files: ["lambdas/**/*.ts", "clients/node/**/*.ts", "local/**/*.ts", "infra/**/*.ts"],
    plugins: { boundaries },
    settings: {
      "boundaries/elements": elements,
      "boundaries/include": ["lambdas/**", "clients/node/**", "local/**", "infra/**"],
      "import/resolver": { typescript: { project: "tsconfig.json" } },
    },
    rules: {
      "boundaries/dependencies": [
        "error",
        {
          default: "allow",
          checkAllOrigins: true,
          policies: [
            {
              from: { element: { type: "core" } },
              disallow: { to: { module: { origin: "external" } } },
              message: "core uses no npm package: it speaks through its ports",
            },
            {
              from: { element: { type: "core" } },
              disallow: { to: { element: { types: { noneOf: ["core", "contract"] } } } },
              message: "core imports only core, lambdas/contract and node:* modules",
            },
            {
              from: { element: { type: "contract" } },
              disallow: { to: { element: { types: { noneOf: ["contract"] } } } },
              message: "the contract is shared with the clients: it imports nothing of the server",
            },
            {
              from: { element: { type: "adapters" } },
              disallow: { to: { element: { types: { anyOf: ["handlers", "http", "local", "client", "infra"] } } } },
              message: "adapters never import handlers or the HTTP edge",
            },
            {
              from: { element: { type: "client" } },
              disallow: { to: { element: { types: { noneOf: ["client", "contract"] } } } },
              message: "the client imports only itself and lambdas/contract, never server code",
            },
            {
              from: { element: { types: { anyOf: ["core", "contract", "adapters", "http", "handlers", "composition"] } } },
              disallow: { to: { element: { types: { anyOf: ["local", "client", "infra"] } } } },
              message: "deployed code imports nothing from local/, clients/ or infra/",
            },
          ],
        },
      ],
    },
  },
);
