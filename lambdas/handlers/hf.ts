import * as z from "zod";
import { ForbiddenError, ValidationError } from "../core/errors.js";
import {
  commitToArtifact,
  completeLfsUpload,
  listTree,
  pathsInfo,
  planLfsBatch,
  recordHubInput,
  repoInfo,
  resolveFile,
  resolveRevision,
  type HubOperation as CommitOperation,
  type HubRepo,
} from "../core/hub.js";
import type { HubOperations, HubRequest } from "../http/hf-handler.js";
import { parse } from "../http/validate.js";
import { alias, name } from "../contract/common.js";
import {
  HF_RUN_ID_HEADER,
  hfCommitLine,
  hfLfsBatchRequest,
  hfLfsCompleteQuery,
  hfLfsCompleteRequest,
  hfPathsInfoRequest,
  hfPreuploadRequest,
  hfTreeQuery,
  type HfCommitLine,
} from "../contract/hf.js";

const revisionParam = z.string().min(1).max(140);

/** The repository a path names: a registry collection, or a project artifact under the projects mount. */
function repoOf(request: HubRequest): HubRepo {
  if (request.params.registry !== undefined) {
    if (!request.registry) throw new ForbiddenError("no registry access was established for this route");
    const { collection } = parse(z.object({ collection: name }), request.params, "path");
    return { kind: "collection", registry: request.registry.registry.name, collection };
  }
  const params = parse(z.object({ project: name, name }), request.params, "path");
  return { kind: "artifact", project: params.project, artifact: params.name };
}

function revisionOf(request: HubRequest): string {
  return request.params.revision === undefined ? "main" : parse(revisionParam, request.params.revision, "revision");
}

async function revision(request: HubRequest) {
  return resolveRevision(request.services, repoOf(request), revisionOf(request), request.registry);
}

/** The run a request names for lineage (HF_RUN_ID_HEADER), validated as run ids are. */
function runIdOf(request: HubRequest): string | undefined {
  const value = request.header(HF_RUN_ID_HEADER);
  return value === undefined || value === "" ? undefined : parse(name, value, `${HF_RUN_ID_HEADER} header`);
}

const truthy = (value: string | undefined) => value !== undefined && ["true", "True", "1"].includes(value);

function jsonBody(request: HubRequest): unknown {
  if (request.body === "") return undefined;
  try {
    return JSON.parse(request.body);
  } catch (error) {
    throw new ValidationError("request body is not valid JSON", { cause: error });
  }
}

/** `huggingface_hub` posts paths-info as a form, `@huggingface/hub` as JSON. */
function pathsInfoBody(request: HubRequest): unknown {
  const type = request.header("content-type") ?? "";
  if (!type.includes("application/x-www-form-urlencoded")) return jsonBody(request);
  const form = new URLSearchParams(request.body);
  const expand = form.get("expand");
  return { paths: form.getAll("paths"), ...(expand === null ? {} : { expand: truthy(expand) }) };
}

function commitLines(body: string): HfCommitLine[] {
  const lines = body.split("\n").filter((line) => line.trim() !== "");
  return lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new ValidationError(`commit line ${i + 1} is not valid JSON`, { cause: error });
    }
    return parse(hfCommitLine, value, `commit line ${i + 1}`);
  });
}

/** The operations of the `hf` function, by the names lambdas/contract/routes.ts gives them. */
export const hubOperations: HubOperations = {
  repoInfo: async (request) => {
    const resolved = await revision(request);
    const restricted = request.registry?.registry.visibility === "restricted";
    const runId = runIdOf(request);
    if (runId !== undefined) await recordHubInput(request.services, request.principal, resolved, runId);
    return { status: 200, body: await repoInfo(request.services, resolved, { private: restricted }) };
  },

  tree: async (request) => {
    const query = parse(hfTreeQuery, request.query, "query");
    const resolved = await revision(request);
    const folder = (request.params.path ?? "").replace(/\/+$/, "");
    const page = await listTree(request.services, resolved, {
      path: folder,
      recursive: truthy(query.recursive),
      expand: truthy(query.expand),
      limit: query.limit,
      cursor: query.cursor,
    });
    const headers: Record<string, string> = {};
    if (page.nextCursor !== undefined) {
      // Clients page by following `Link: <…>; rel="next"` (absolute: they fetch it as it is).
      const next = new URLSearchParams({ ...request.query, cursor: page.nextCursor });
      const repo = `${encodeURIComponent(request.params.registry ?? request.params.project!)}/${encodeURIComponent(request.params.collection ?? request.params.name!)}`;
      const path = folder === "" ? "" : `/${folder.split("/").map(encodeURIComponent).join("/")}`;
      headers.link = `<${request.mountUrl}/api/models/${repo}/tree/${encodeURIComponent(revisionOf(request))}${path}?${next}>; rel="next"`;
    }
    return { status: 200, headers, body: page.items };
  },

  pathsInfo: async (request) => {
    const body = parse(hfPathsInfoRequest, pathsInfoBody(request), "paths-info");
    const resolved = await revision(request);
    return { status: 200, body: await pathsInfo(request.services, resolved, body.paths, body.expand ?? false) };
  },

  resolve: async (request) => {
    const resolved = await revision(request);
    const path = parse(z.string().min(1).max(1024), request.params.path, "path");
    const file = await resolveFile(request.services, resolved, path);
    const runId = runIdOf(request);
    if (runId !== undefined) await recordHubInput(request.services, request.principal, resolved, runId);
    // The metadata is on the redirect itself: huggingface_hub reads it from a HEAD that does
    // not follow a redirect to another host. Range requests go to the store with the redirect.
    return {
      status: 302,
      headers: {
        location: file.location,
        etag: `"${file.etag}"`,
        "x-linked-etag": `"${file.etag}"`,
        "x-linked-size": String(file.size),
        "x-repo-commit": resolved.commit,
        "accept-ranges": "bytes",
      },
    };
  },

  preupload: async (request) => {
    repoOf(request);
    const body = parse(hfPreuploadRequest, jsonBody(request), "preupload");
    return { status: 200, body: { files: body.files.map((file) => ({ path: file.path, uploadMode: "lfs", shouldIgnore: false })) } };
  },

  lfsBatch: async (request) => {
    const repo = repoOf(request);
    if (repo.kind !== "artifact") throw new ValidationError("uploads go to project artifacts");
    const body = parse(hfLfsBatchRequest, jsonBody(request), "LFS batch");
    const base = `${request.mountUrl}/${encodeURIComponent(repo.project)}/${encodeURIComponent(repo.artifact)}.git/info/lfs/objects/complete`;
    const batch = await planLfsBatch(
      request.services,
      body.objects,
      (oid, uploadId) => `${base}/${oid}?${new URLSearchParams({ uploadId })}`,
      request.services.config.urlExpirySeconds,
    );
    return { status: 200, headers: { "content-type": "application/vnd.git-lfs+json" }, body: batch };
  },

  lfsComplete: async (request) => {
    repoOf(request);
    const { oid } = parse(z.object({ oid: z.string().regex(/^[0-9a-f]{64}$/, "must be a lower-case SHA-256") }), request.params, "path");
    const { uploadId } = parse(hfLfsCompleteQuery, request.query, "query");
    const body = parse(hfLfsCompleteRequest, jsonBody(request), "multipart completion");
    if (body.oid !== oid) throw new ValidationError(`the completion names ${body.oid}, the URL ${oid}`);
    return { status: 200, body: await completeLfsUpload(request.services, oid, uploadId, body.parts) };
  },

  commit: async (request) => {
    const repo = repoOf(request);
    if (repo.kind !== "artifact") throw new ValidationError("commits go to project artifacts");
    const branch = revisionOf(request);
    if (!["main", "HEAD"].includes(branch) && !/^v?\d+$/.test(branch) && !/^[0-9a-f]{40}$/.test(branch)) {
      parse(alias, branch, "branch");
    }
    const lines = commitLines(request.body);
    const header = lines.find((line) => line.key === "header")?.value as
      { summary: string; description?: string; parentCommit?: string } | undefined;
    if (!header) throw new ValidationError("the commit has no header line");
    const operations: CommitOperation[] = lines.flatMap((line): CommitOperation[] => {
      switch (line.key) {
        case "header":
          return [];
        case "lfsFile":
          return [
            {
              kind: "add",
              path: line.value.path,
              sha256: line.value.oid,
              ...(line.value.size === undefined ? {} : { size: line.value.size }),
            },
          ];
        case "deletedFile":
          return [{ kind: "deleteFile", path: line.value.path }];
        case "deletedFolder":
          return [{ kind: "deleteFolder", path: line.value.path }];
        case "file":
          throw new ValidationError(
            `${line.value.path}: inline file content is not accepted; upload it through LFS (every file is an LFS file here)`,
          );
      }
    });
    const description = [header.summary, header.description ?? ""].filter((part) => part.trim() !== "").join("\n\n");
    if (description.length > 4096) throw new ValidationError("the commit message is longer than 4096 characters");
    const runId = runIdOf(request);
    const committed = await commitToArtifact(
      request.services,
      request.principal,
      { project: repo.project, artifact: repo.artifact },
      branch,
      {
        description,
        ...(header.parentCommit ? { parentCommit: header.parentCommit } : {}),
        operations,
        ...(runId === undefined ? {} : { runId }),
      },
    );
    if (committed.created) request.metrics.versionCommitted();
    const repoPath = `${encodeURIComponent(repo.project)}/${encodeURIComponent(repo.artifact)}`;
    return {
      status: 200,
      body: {
        commitOid: committed.commit,
        commitUrl: `${request.mountUrl}/${repoPath}/commit/${committed.commit}`,
        commitMessage: description,
        hookOutput: "",
        success: true,
        version: committed.version,
        created: committed.created,
      },
    };
  },
};
