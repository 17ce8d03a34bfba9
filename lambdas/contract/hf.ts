import * as z from "zod";
import { MAX_FILES_PER_REQUEST } from "./artifacts.js";
import { filePath, size } from "./common.js";
import { S3_LIMITS } from "./limits.js";

/**
 * The Hugging Face Hub protocol as `huggingface_hub` and `@huggingface/hub` speak it, for
 * the routes under lambdas/contract/hf-mounts.ts: what they send and what they read back.
 */

/** `@huggingface/hub` refuses tokens without this prefix, so `/hf` reads `hf_<mreg key>` as the key. */
export const HF_TOKEN_PREFIX = "hf_";
/** Names the run that downloads (an input edge) or commits (the version's producer); in the artifact's project. */
export const HF_RUN_ID_HEADER = "x-mreg-run-id";
/** The revision HF clients ask for when they name none; it reads as `latest`. */
export const HF_DEFAULT_REVISIONS = ["main", "HEAD"] as const;

/** What the clients branch on when a request fails (`X-Error-Code`). */
export const hfErrorCode = z.enum(["RepoNotFound", "RevisionNotFound", "EntryNotFound"]);
export type HfErrorCode = z.infer<typeof hfErrorCode>;

/** The error body on `/hf`: the clients read `error` as the message. */
export const hfErrorBody = z.object({
  error: z.string(),
  /** The registry's error code (lambdas/contract/errors.ts). */
  code: z.string(),
  requestId: z.string(),
});

export const hfLfsInfo = z.object({ oid: z.string(), size, pointerSize: z.int() });
export const hfLastCommit = z.object({ id: z.string(), title: z.string(), date: z.string() });

/** One entry of a tree listing or of paths-info: a file (every blob is an LFS object) or a folder. */
export const hfTreeEntry = z.union([
  z.object({
    type: z.literal("file"),
    /** The git blob id of the LFS pointer (or, for a reference entry, of its pinned S3 object). */
    oid: z.string(),
    size,
    path: z.string(),
    lfs: hfLfsInfo.optional(),
    lastCommit: hfLastCommit.optional(),
    securityFileStatus: z.object({ status: z.string() }).optional(),
  }),
  z.object({
    type: z.literal("directory"),
    oid: z.string(),
    size: z.literal(0),
    path: z.string(),
    lastCommit: hfLastCommit.optional(),
  }),
]);
export type HfTreeEntry = z.infer<typeof hfTreeEntry>;

export const hfSibling = z.object({
  rfilename: z.string(),
  size,
  blobId: z.string(),
  lfs: z.object({ sha256: z.string(), size, pointerSize: z.int() }).optional(),
});

/** `/api/models/{repo}/revision/{revision}`: the revision's commit (`sha`) and its files. */
export const hfRepoInfo = z.object({
  _id: z.string(),
  id: z.string(),
  modelId: z.string(),
  author: z.string(),
  sha: z.string(),
  lastModified: z.string(),
  createdAt: z.string(),
  private: z.boolean(),
  disabled: z.boolean(),
  gated: z.boolean(),
  downloads: z.int(),
  likes: z.int(),
  tags: z.array(z.string()),
  siblings: z.array(hfSibling),
  /** The registry's view of the same revision. */
  mreg: z.object({
    ref: z.string(),
    version: z.string(),
    digest: z.string(),
    type: z.string(),
    aliases: z.array(z.string()),
    description: z.string().nullable(),
    source: z.object({ project: z.string(), artifact: z.string(), version: z.string() }),
  }),
});
export type HfRepoInfo = z.infer<typeof hfRepoInfo>;

export const hfTreeQuery = z.object({
  recursive: z.enum(["true", "false", "True", "False", "1", "0"]).optional(),
  expand: z.enum(["true", "false", "True", "False", "1", "0"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(1000),
  cursor: z.string().max(2048).optional(),
});

/** JSON from `@huggingface/hub`; `huggingface_hub` sends the same as a form (`paths` repeated). */
export const hfPathsInfoRequest = z.object({
  paths: z.array(z.string().min(1).max(1024)).min(1).max(MAX_FILES_PER_REQUEST),
  expand: z.boolean().optional(),
});

export const hfPreuploadRequest = z.object({
  files: z
    .array(z.object({ path: filePath, size, sample: z.string().optional() }))
    .min(1)
    .max(MAX_FILES_PER_REQUEST),
  gitAttributes: z.string().optional(),
  gitIgnore: z.string().optional(),
});

/** Every file goes through LFS (presigned S3), so no byte of it passes through a function. */
export const hfPreuploadResponse = z.object({
  files: z.array(z.object({ path: z.string(), uploadMode: z.literal("lfs"), shouldIgnore: z.boolean() })),
});

export const hfLfsBatchRequest = z.object({
  operation: z.literal("upload"),
  transfers: z.array(z.string()).optional(),
  hash_algo: z.literal("sha256").or(z.literal("sha_256")).optional(),
  ref: z.object({ name: z.string() }).nullable().optional(),
  objects: z
    .array(
      z.object({
        oid: z.string().regex(/^[0-9a-f]{64}$/, "must be a lower-case SHA-256"),
        size,
      }),
    )
    .min(1)
    .max(1000),
});

const hfLfsAction = z.object({
  href: z.string(),
  /** Multipart: `chunk_size` and one presigned part URL per zero-padded part number (`00001`, …). */
  header: z.record(z.string(), z.string()).optional(),
  expires_in: z.int(),
});

/** `basic` (one presigned PUT) or `multipart`; never `xet`, so clients fall back to plain LFS. */
export const hfLfsBatchResponse = z.object({
  transfer: z.enum(["basic", "multipart"]),
  hash_algo: z.literal("sha256"),
  objects: z.array(
    z.object({
      oid: z.string(),
      size,
      authenticated: z.boolean(),
      /** Absent when the registry holds the bytes already. */
      actions: z.object({ upload: hfLfsAction }).optional(),
    }),
  ),
});
export type HfLfsBatchResponse = z.infer<typeof hfLfsBatchResponse>;

export const hfLfsCompleteRequest = z.object({
  oid: z.string().regex(/^[0-9a-f]{64}$/),
  parts: z
    .array(z.object({ partNumber: z.int().min(1).max(S3_LIMITS.maxParts), etag: z.string().min(1).max(256) }))
    .min(1)
    .max(S3_LIMITS.maxParts),
});

export const hfLfsCompleteQuery = z.object({ uploadId: z.string().min(1).max(1024) });

export const hfLfsCompleteResponse = z.object({ oid: z.string(), size, verified: z.literal(true), alreadyPresent: z.boolean() });

/** One line of the commit's NDJSON body. `file` (inline base64 content) is refused: bytes go through LFS. */
export const hfCommitLine = z.discriminatedUnion("key", [
  z.object({
    key: z.literal("header"),
    value: z.object({ summary: z.string().max(4096), description: z.string().max(4096).optional(), parentCommit: z.string().optional() }),
  }),
  z.object({
    key: z.literal("lfsFile"),
    value: z.object({
      path: filePath,
      algo: z.literal("sha256").optional(),
      oid: z.string().regex(/^[0-9a-f]{64}$/),
      size: size.optional(),
    }),
  }),
  z.object({ key: z.literal("deletedFile"), value: z.object({ path: filePath }) }),
  z.object({ key: z.literal("deletedFolder"), value: z.object({ path: filePath }) }),
  z.object({ key: z.literal("file"), value: z.object({ path: filePath, content: z.string(), encoding: z.string().optional() }) }),
]);
export type HfCommitLine = z.infer<typeof hfCommitLine>;

export const hfCommitResponse = z.object({
  commitOid: z.string(),
  commitUrl: z.string(),
  commitMessage: z.string(),
  hookOutput: z.string(),
  success: z.literal(true),
  /** The artifact version the commit made (or found: identical content is one version). */
  version: z.string(),
  created: z.boolean(),
});
export type HfCommitResponse = z.infer<typeof hfCommitResponse>;
