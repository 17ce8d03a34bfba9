import { randomBytes } from "node:crypto";
import { chmod, link, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The key pair the embedded S3 emulator accepts, and the registry signs with. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Where a data dir keeps its emulator's key pair (mode 0600, like the admin key). */
export const S3_CREDENTIALS_FILE = "s3-credentials.json";

const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;
const SECRET_ACCESS_KEY = /^[A-Za-z0-9_-]{40,128}$/;

/**
 * A new random key pair: 80 bits of key id (AWS's AKIA… shape, so nothing that parses key ids
 * chokes on it) and 256 bits of secret. Anyone who can read it can read and write the store.
 */
export function generateS3Credentials(): S3Credentials {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const id = [...randomBytes(16)].map((byte) => alphabet[byte & 31]).join("");
  return { accessKeyId: `MREG${id}`, secretAccessKey: randomBytes(32).toString("base64url") };
}

/**
 * The data dir's key pair: read from `<dataDir>/s3-credentials.json`, or generated and saved
 * there (0600) on the first start. The file is created exclusively, so two starts racing on a
 * new data dir end up with the same pair.
 */
export async function loadOrCreateS3Credentials(dataDir: string): Promise<S3Credentials> {
  const file = join(dataDir, S3_CREDENTIALS_FILE);
  const existing = await readCredentials(file);
  if (existing) return existing;
  const fresh = generateS3Credentials();
  // Written whole to a private temp file, then linked into place: a crash never leaves half a file.
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(fresh)}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(temp, file);
    return fresh;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const winner = await readCredentials(file);
    if (!winner) throw new Error(`${file} is not a valid credentials file`, { cause: error });
    return winner;
  } finally {
    await rm(temp, { force: true });
  }
}

async function readCredentials(file: string): Promise<S3Credentials | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let parsed: Partial<S3Credentials> | undefined;
  try {
    parsed = JSON.parse(text) as Partial<S3Credentials>;
  } catch {
    parsed = undefined;
  }
  if (
    typeof parsed?.accessKeyId !== "string" ||
    typeof parsed.secretAccessKey !== "string" ||
    !ACCESS_KEY_ID.test(parsed.accessKeyId) ||
    !SECRET_ACCESS_KEY.test(parsed.secretAccessKey)
  ) {
    throw new Error(`${file} is not a valid credentials file: remove it to have new credentials generated`);
  }
  // Whoever reads it owns the store: keep it the owner's alone even if it was loosened.
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey };
}
