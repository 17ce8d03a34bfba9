import { defineConfig } from "vite";

// The app is served by the registry itself (local/server.ts, CloudFront in AWS): same origin as /v1.
export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Hashed names under assets/ are served immutable; index.html is never cached.
    assetsDir: "assets",
    sourcemap: false,
    reportCompressedSize: true,
    // The bundle-size test reads which chunks the first page needs from here.
    manifest: true,
    rolldownOptions: {
      onwarn(warning, warn) {
        // React Query marks its hooks "use client" for server components; meaningless in a browser bundle.
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
    },
  },
  server: {
    // `npm run dev -w web` talks to a registry started with `npm start`.
    proxy: { "/v1": process.env.MREG_URL ?? "http://127.0.0.1:8787" },
  },
});
