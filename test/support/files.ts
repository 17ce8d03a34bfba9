import { createHash } from "node:crypto";

export function sha256(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function fileSpec(path: string, bytes: Buffer | string) {
  const buffer = Buffer.from(bytes);
  return { path, size: buffer.length, sha256: sha256(buffer), bytes: buffer };
}

/** Uploads every blob of a plan with plain fetch, as any client could. */
export async function uploadPlanned(plan: { uploads: any[] }, bytesBySha: Map<string, Buffer>): Promise<number> {
  let sent = 0;
  for (const upload of plan.uploads) {
    const bytes = bytesBySha.get(upload.sha256)!;
    if (upload.method === "PUT") {
      const response = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: new Uint8Array(bytes) });
      if (!response.ok) throw new Error(`PUT failed ${response.status}: ${await response.text()}`);
      sent += bytes.length;
    }
  }
  return sent;
}
