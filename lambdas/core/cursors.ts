import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { ValidationError } from "./errors.js";

/**
 * Page cursors as the API hands them out: sealed (AES-256-GCM) under a server secret and
 * bound to the list they page, so a caller learns nothing from one (not even the name of
 * an item it may not see) and cannot forge, alter or move one to another list.
 */
export interface Cursors {
  /** `list` names the list (its partition, its filters); `payload` is where the next page starts. */
  seal(list: string, payload: string): Promise<string>;
  /** The payload of a cursor sealed for `list`; a ValidationError (400) for anything else. */
  open(list: string, cursor: string): Promise<string>;
}

/** The deployment's secret, generated once and kept (lambdas/adapters/dynamodb/server-secret.ts). */
export type SecretSource = () => Promise<Uint8Array>;

const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export class CursorSealer implements Cursors {
  private key?: Promise<Buffer>;

  constructor(private readonly secret: SecretSource) {}

  /** A sealer whose secret lives and dies with this process: for tests and one-process tools. */
  static ephemeral(): CursorSealer {
    const secret = randomBytes(32);
    return new CursorSealer(async () => secret);
  }

  async seal(list: string, payload: string): Promise<string> {
    const key = await this.cursorKey();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(Buffer.from(list, "utf8"));
    const sealed = Buffer.concat([cipher.update(payload, "utf8"), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT]), iv, sealed, cipher.getAuthTag()]).toString("base64url");
  }

  async open(list: string, cursor: string): Promise<string> {
    const bytes = BASE64URL.test(cursor) ? Buffer.from(cursor, "base64url") : undefined;
    if (!bytes || bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== FORMAT) {
      throw new ValidationError("cursor is not valid: pass nextCursor from the previous page unchanged");
    }
    const key = await this.cursorKey();
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(Buffer.from(list, "utf8"));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const payload = Buffer.concat([decipher.update(bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
      return payload.toString("utf8");
    } catch (error) {
      // A wrong tag: altered, forged, or sealed for another list (or under another secret).
      throw new ValidationError("cursor is not valid for this list", { cause: error });
    }
  }

  /** The cursor key, derived from the secret (read once; a failed read is tried again next time). */
  private cursorKey(): Promise<Buffer> {
    this.key ??= this.secret().then(
      (secret) => Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), "mreg page cursors v1", 32)),
      (error: unknown) => {
        this.key = undefined;
        throw error;
      },
    );
    return this.key;
  }
}
