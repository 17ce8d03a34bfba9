import type { PresignedMultipart } from "../../../lambdas/contract/artifacts.js";
import { MregError } from "./errors.js";

export interface PlannedPart {
  partNumber: number;
  url: string;
  headers: Record<string, string>;
  /** Byte range of the file: [start, end). */
  start: number;
  end: number;
}

/**
 * The byte range of every part of a multipart plan. Part n covers
 * [(n-1)·partSize, min(n·partSize, size)); the plan must name each part exactly once.
 */
export function planParts(size: number, multipart: PresignedMultipart["multipart"]): PlannedPart[] {
  const { partSize } = multipart;
  if (!Number.isInteger(partSize) || partSize <= 0) {
    throw new MregError(`the registry planned an invalid part size ${partSize}`);
  }
  const expected = Math.max(1, Math.ceil(size / partSize));
  const parts = [...multipart.parts].sort((a, b) => a.partNumber - b.partNumber);
  if (parts.length !== expected || parts.some((p, i) => p.partNumber !== i + 1)) {
    throw new MregError(
      `the registry planned ${parts.length} parts for ${size} bytes in parts of ${partSize}; expected parts 1 to ${expected}`,
    );
  }
  return parts.map((p) => ({
    partNumber: p.partNumber,
    url: p.url,
    headers: p.headers ?? {},
    start: (p.partNumber - 1) * partSize,
    end: Math.min(p.partNumber * partSize, size),
  }));
}
