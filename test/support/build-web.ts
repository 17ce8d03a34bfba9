import { ensureWebAssets } from "../../local/web-assets.js";

/** Vitest global setup: the browser tests and the bundle-size test read web/dist, so build it when stale. */
export default async function buildWeb(): Promise<void> {
  await ensureWebAssets({ log: (line) => console.log(line) });
}
