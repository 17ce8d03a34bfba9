import { createHash } from "node:crypto";
import type { FileResponse } from "../../../lambdas/contract/artifacts.js";
import { canonicalManifestText, type EntryLike } from "../../../lambdas/contract/manifest.js";
import { IntegrityError } from "./errors.js";

/** The digest of a file listing: the SHA-256 of its canonical manifest (lambdas/contract/manifest.ts). */
export function listingDigest(files: readonly FileResponse[]): string {
  return createHash("sha256")
    .update(canonicalManifestText(files as readonly EntryLike[]))
    .digest("hex");
}

/**
 * Checks a version's complete file listing against the digest the registry reported for the
 * version: the listing is what every download is checked against, so it must be the very
 * manifest the version was committed with. `what` names the version in the error.
 */
export function verifyListing(files: readonly FileResponse[], digest: string, what: string): void {
  const malformed = files.find(
    (f) => typeof f.path !== "string" || typeof f.size !== "number" || (f.sha256 === undefined) === (f.ref === undefined),
  );
  const actual = malformed === undefined ? listingDigest(files) : undefined;
  if (actual !== digest) {
    throw new IntegrityError(
      `${what}: the registry's file list does not match the version's digest ${digest}` +
        (actual === undefined ? "" : ` (it hashes to ${actual})`) +
        "; nothing was downloaded. The registry's store may have been tampered with: tell its operator",
    );
  }
}
