import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { MregError } from "./errors.js";

export interface ListedObject {
  key: string;
  size: number;
}

/**
 * Lists the objects under an S3 prefix with the caller's own AWS credentials (the default
 * provider chain, endpoint from AWS_ENDPOINT_URL_S3). The registry resolves each object
 * itself at commit; this only finds their keys.
 */
export async function listS3Prefix(bucket: string, prefix: string, env = process.env): Promise<ListedObject[]> {
  const client = new S3Client({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    forcePathStyle: env.MREG_S3_FORCE_PATH_STYLE === "true",
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  if (env.MREG_S3_EMULATOR === "true") {
    // As in the server's client: the emulator checks `/bucket` where the SDK signs `/bucket/`.
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { path?: unknown };
        if (typeof request.path === "string" && /^\/[^/]+\/$/.test(request.path)) request.path = request.path.slice(0, -1);
        return next(args);
      },
      { step: "build", name: "trimBucketRootSlash" },
    );
  }
  const objects: ListedObject[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        if (object.Key && !object.Key.endsWith("/")) objects.push({ key: object.Key, size: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (error) {
    const name = (error as Error).name;
    throw new MregError(
      `cannot list s3://${bucket}/${prefix} with your AWS credentials (${name}); name single objects with --ref s3://bucket/key instead`,
      { cause: error },
    );
  } finally {
    client.destroy();
  }
  return objects;
}
