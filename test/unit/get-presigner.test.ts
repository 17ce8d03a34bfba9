import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GetPresigner } from "../../lambdas/adapters/s3/get-presigner.js";

const SHA = "ab".repeat(32);
const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "token/with+chars=",
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-03-04T05:06:07.000Z"));
});
afterEach(() => {
  vi.useRealTimers();
});

describe("GetPresigner", () => {
  it.each([
    ["virtual-hosted S3", new S3Client({ region: "eu-west-3", credentials })],
    ["a path-style emulator", new S3Client({ region: "us-east-1", endpoint: "http://127.0.0.1:4569", forcePathStyle: true, credentials })],
  ])("signs exactly the URL getSignedUrl does, for %s", async (_, client) => {
    const presigner = new GetPresigner(client, "mreg-blobs");
    const disposition = `attachment; filename="we_ird (1)!.bin"`;

    for (const filename of [disposition, `attachment; filename="plain.bin"`]) {
      const fast = await presigner.url(`blobs/${SHA}`, { "response-content-disposition": filename }, 3600);
      const sdk = await getSignedUrl(
        client,
        new GetObjectCommand({ Bucket: "mreg-blobs", Key: `blobs/${SHA}`, ResponseContentDisposition: filename }),
        { expiresIn: 3600 },
      );
      expect(fast).toBe(sdk);
    }
  });

  it("refuses a key that would need escaping", async () => {
    const presigner = new GetPresigner(new S3Client({ region: "us-east-1", credentials }), "b");
    await expect(presigner.url("blobs/a b", {}, 60)).rejects.toThrow("plain keys only");
  });
});
