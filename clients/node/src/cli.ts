import type { JobResponse } from "../../../lambdas/contract/responses.js";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { AbortedError, ApiError, MregError } from "./errors.js";
import { formatBytes } from "./format-bytes.js";

/*
 * Every command pays the process start, so this module imports only what parsing the command
 * line needs; the SDK (zod, the transfer code), the terminal bars and readline load when a
 * command runs (bench/cli-start.ts measures `mreg --help`).
 */
const sdk = () => import("./mreg-client.js");
const refs = () => import("./parse-ref.js");
const config = () => import("./client-config.js");

/** Bars only on a terminal: nothing to load otherwise. */
async function terminalProgress() {
  return process.stderr.isTTY ? (await import("./progress-bars.js")).terminalProgress() : undefined;
}

interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  url?: string;
  concurrency?: number;
}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("expected a positive integer");
  return parsed;
}

function count(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError("expected a whole number");
  return parsed;
}

function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError("expected a JSON object");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new InvalidArgumentError("expected a JSON object");
  return parsed as Record<string, unknown>;
}

/** Runs the CLI; resolves to the exit code. Never throws, never calls process.exit. */
export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort("interrupted");
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const program = buildProgram(io, interrupt.signal);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const debug = program.opts<GlobalOptions>().debug || argv.includes("--debug");
    io.err(`mreg: ${describeError(error, interrupt.signal.aborted)}`);
    if (debug && error instanceof Error) io.err(stackOf(error));
    return interrupt.signal.aborted ? 130 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function defaultIo(): Io {
  return { out: (text) => process.stdout.write(`${text}\n`), err: (text) => process.stderr.write(`${text}\n`) };
}

export function describeError(error: unknown, interrupted = false): string {
  if (interrupted || error instanceof AbortedError) {
    return "interrupted; run the same command again to resume";
  }
  if (error instanceof ApiError) {
    const status = error.status === 0 ? "" : ` (HTTP ${error.status})`;
    if (error.status === 401) return `the registry refused the API key${status}: run mreg login, or check MREG_API_KEY`;
    return `${error.message}${status}`;
  }
  if (error instanceof MregError) return error.message;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EACCES" || code === "ENOSPC" || code === "EROFS") return (error as Error).message;
  return `unexpected error: ${error instanceof Error ? error.message : String(error)} (rerun with --debug for details)`;
}

function stackOf(error: Error): string {
  let text = error.stack ?? String(error);
  let cause = error.cause;
  while (cause instanceof Error) {
    text += `\ncaused by: ${cause.stack ?? cause.message}`;
    cause = cause.cause;
  }
  return text;
}

export function buildProgram(io: Io, signal: AbortSignal): Command {
  const program = new Command()
    .name("mreg")
    .description("Log, link and use versioned models and datasets in an mreg registry.")
    .option("--json", "print one JSON object instead of text")
    .option("--debug", "print stack traces and retries")
    .option("--url <url>", "registry URL (else MREG_URL, else the saved login)")
    .option("--concurrency <n>", "transfers in flight at once", positiveInt)
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .showSuggestionAfterError();

  const globals = (command: Command) => command.optsWithGlobals<GlobalOptions>();
  const print = (command: Command, json: unknown, text: () => string) => {
    io.out(globals(command).json ? JSON.stringify(json) : text());
  };
  const client = async (command: Command) => {
    const options = globals(command);
    const { MregClient } = await sdk();
    return MregClient.fromEnvironment({
      ...(options.url === undefined ? {} : { url: options.url }),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.debug
        ? {
            blobBusyRetry: {
              onRetry: (error: unknown, attempt: number) =>
                io.err(`retrying (attempt ${attempt}): ${error instanceof Error ? error.message : String(error)}`),
            },
          }
        : {}),
    });
  };
  const onRetry = (command: Command) =>
    globals(command).debug
      ? (what: string, error: unknown, attempt: number) =>
          io.err(`retrying ${what} (attempt ${attempt}): ${error instanceof Error ? error.message : String(error)}`)
      : undefined;

  program
    .command("login")
    .description("save the registry URL and API key (mode 0600) for later commands")
    .option("--key <key>", "API key (else read from stdin)")
    .option("--no-verify", "save without checking the key against the registry")
    .action(async (options: { key?: string; verify: boolean }, command: Command) => {
      const { configPath, DEFAULT_URL, readSavedConfig, writeSavedConfig } = await config();
      const path = configPath();
      const saved = await readSavedConfig(path);
      const url = (globals(command).url || process.env.MREG_URL || saved.url || DEFAULT_URL).replace(/\/+$/, "");
      const apiKey = options.key ?? (await readKey());
      if (!apiKey) throw new MregError("no API key given: pass --key or type it on stdin");
      if (options.verify) await verifyKey(url, apiKey);
      await writeSavedConfig(path, { url, apiKey });
      print(command, { url, config: path }, () => `logged in to ${url} (saved to ${path})`);
    });

  program
    .command("log")
    .description("log files and directories as a new version of an artifact (unchanged content: the existing version)")
    .argument("[paths...]", "files and directories to log")
    .requiredOption("-p, --project <project>", "project to log into")
    .requiredOption("-n, --name <name>", "artifact name")
    .option("-t, --type <type>", "artifact type", "model")
    .option("-a, --alias <alias>", "alias to set on the version (repeatable)", collect, [])
    .option("--metadata <json>", "metadata as a JSON object", jsonObject)
    .option("--description <text>", "description of the version")
    .option(
      "--ref <uri>",
      "s3://bucket/key to log by reference, or s3://bucket/prefix/ (listed with your AWS credentials) (repeatable)",
      collect,
      [],
    )
    .option("--run <id>", "the run that produced this version")
    .option("--hash-first", "hash every file before sending any byte")
    .option(
      "--no-hash-first",
      "send large files the hash cache does not know while they are hashed (the default unless the machine runs 3 or more tasks per core)",
    )
    .action(async (paths: string[], options: LogCliOptions, command: Command) => {
      if (paths.length === 0 && options.ref.length === 0) throw new MregError("nothing to log: give files, directories or --ref");
      const mreg = await client(command);
      const progress = await terminalProgress();
      const result = await mreg
        .logArtifact({
          project: options.project,
          name: options.name,
          type: options.type,
          paths,
          refs: options.ref,
          aliases: options.alias,
          ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.run === undefined ? {} : { runId: options.run }),
          ...(options.hashFirst === undefined ? {} : { hashFirst: options.hashFirst }),
          signal,
          progress,
          onRetry: onRetry(command),
        })
        .finally(() => progress?.close());
      print(command, result, () => {
        const what = result.created ? "created" : "unchanged, existing version reused";
        const resumed = result.resumedBytes > 0 ? `, resumed ${formatBytes(result.resumedBytes)}` : "";
        const discarded = result.discardedBytes > 0 ? `, ${formatBytes(result.discardedBytes)} sent while hashing and not needed` : "";
        return (
          `${result.project}/${result.artifact}:${result.version} ${what}\n` +
          `  ${result.files} files, ${formatBytes(result.size)}; uploaded ${formatBytes(result.uploadedBytes)}${resumed}, already stored ${formatBytes(result.reusedBytes)}${discarded}\n` +
          `  aliases: ${result.aliases.join(", ") || "none"}`
        );
      });
    });

  program
    .command("use")
    .description("download a version (artifact or registry collection) and print its local path")
    .argument("<ref>", "project/artifact[:version] or @registry/collection[:version]")
    .option("-d, --dir <dir>", "directory to write into (default ./artifacts/<name>-<version>)")
    .option("--prefix <path>", "only the files whose path starts with this")
    .option("--run <id>", "record the version as an input of this run")
    .option("--no-cache", "bypass the download cache")
    .action(async (ref: string, options: { dir?: string; prefix?: string; run?: string; cache: boolean }, command: Command) => {
      const target = (await refs()).parseRef(ref);
      const mreg = await client(command);
      const progress = await terminalProgress();
      const result = await mreg
        .useArtifact(target, {
          ...(options.dir === undefined ? {} : { dir: options.dir }),
          ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
          ...(options.run === undefined ? {} : { run: options.run }),
          cache: options.cache,
          signal,
          progress,
          onRetry: onRetry(command),
        })
        .finally(() => progress?.close());
      print(command, result, () => result.path);
    });

  program
    .command("link")
    .description("link an artifact version into a registry collection (created if missing)")
    .argument("<source>", "project/artifact[:version] (default latest)")
    .argument("<target>", "@registry/collection")
    .option("-a, --alias <alias>", "alias to set on the linked version (repeatable)", collect, [])
    .action(async (source: string, target: string, options: { alias: string[] }, command: Command) => {
      const mreg = await client(command);
      const result = await mreg.link(source, target, { aliases: options.alias });
      const collection = target.startsWith("@") ? target : `@${target}`;
      print(command, result, () => `${collection}:${result.version} ${result.created ? "linked" : "was already linked"} (${source})`);
    });

  program
    .command("registry")
    .description("manage registries")
    .command("create")
    .description("create a registry (org admins)")
    .argument("<name>", "registry name, used as @name")
    .option("--restricted", "visible to its members only (default: the whole organization)")
    .option("-t, --type <type>", "artifact type it accepts (repeatable; default any)", collect, [])
    .option("--protect <alias>", "alias only registry admins may set or remove (repeatable)", collect, [])
    .option("--description <text>", "what the registry holds")
    .option("--approvals <n>", "distinct admins whose approval moves a protected alias (promotions; default 0: admins move it)", count)
    .action(
      async (
        name: string,
        options: { restricted?: boolean; type: string[]; protect: string[]; description?: string; approvals?: number },
        command: Command,
      ) => {
        const mreg = await client(command);
        const result = await mreg.createRegistry({
          name,
          visibility: options.restricted ? "restricted" : "organization",
          ...(options.type.length > 0 ? { artifactTypes: options.type } : {}),
          protectedAliases: options.protect,
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.approvals === undefined ? {} : { approvalsRequired: options.approvals }),
        });
        print(command, result, () => `created @${result.name} (${result.visibility})`);
      },
    );

  const alias = program.command("alias").description("move or remove aliases (production, best, …)");
  alias
    .command("set")
    .description("point an alias at a version")
    .argument("<ref>", "project/artifact:version or @registry/collection:version")
    .argument("<alias>")
    .option("--expect <version>", "move only if the alias names this version now (v3), or `none`: only if it is not set yet")
    .action(async (ref: string, name: string, options: { expect?: string }, command: Command) => {
      const mreg = await client(command);
      const expected = options.expect === undefined ? {} : { expectedVersion: options.expect === "none" ? null : options.expect };
      const result = await mreg.setAlias(ref, name, expected);
      print(command, result, () => `${name} → ${result.version}${result.previous ? ` (was ${result.previous})` : ""}`);
    });
  alias
    .command("rm")
    .description("remove an alias")
    .argument("<ref>", "project/artifact or @registry/collection")
    .argument("<alias>")
    .action(async (ref: string, name: string, _options: unknown, command: Command) => {
      const mreg = await client(command);
      const result = await mreg.removeAlias(ref, name);
      print(command, result ?? { alias: name, removed: true }, () => `removed ${name} from ${ref}`);
    });

  program
    .command("promote")
    .description("ask for a protected alias to move to a collection version; registry admins approve")
    .argument("<ref>", "@registry/collection:version")
    .argument("<alias>")
    .option("--note <text>", "why, for the approvers")
    .action(async (ref: string, name: string, options: { note?: string }, command: Command) => {
      const mreg = await client(command);
      const result = await mreg.requestPromotion(ref, name, options);
      print(
        command,
        result,
        () =>
          `promotion ${result.id}: ${name} ${result.from ?? "(unset)"} → ${result.version}, pending ` +
          `${result.approvalsRequired} approval${result.approvalsRequired === 1 ? "" : "s"}`,
      );
    });
  for (const [verb, description] of [
    ["approve", "approve a promotion (registry admins other than the asker); the last approval needed moves the alias"],
    ["reject", "reject a promotion (registry admins other than the asker)"],
  ] as const) {
    program
      .command(verb)
      .description(description)
      .argument("<collection>", "@registry/collection")
      .argument("<id>", "the promotion's id")
      .option("--note <text>", "a note kept with the decision")
      .action(async (ref: string, id: string, options: { note?: string }, command: Command) => {
        const mreg = await client(command);
        const result = verb === "approve" ? await mreg.approvePromotion(ref, id, options) : await mreg.rejectPromotion(ref, id, options);
        print(command, result, () => {
          if (result.status === "approved") return `promotion ${id} approved: ${result.alias} → ${result.version}`;
          if (result.status === "pending") return `promotion ${id}: ${result.approvals.length} of ${result.approvalsRequired} approvals`;
          return `promotion ${id} ${result.status}`;
        });
      });
  }
  program
    .command("promotions")
    .description("a collection's promotion requests, newest first")
    .argument("<collection>", "@registry/collection")
    .option("--status <status>", "pending, approved, rejected or stale")
    .option("--limit <n>", "requests per page", positiveInt)
    .option("--cursor <cursor>", "page to continue from")
    .action(async (ref: string, options: { status?: string; limit?: number; cursor?: string }, command: Command) => {
      const mreg = await client(command);
      const page = await mreg.listPromotions(ref, options);
      print(command, page, () => {
        const lines = page.items.map(
          (p) =>
            `${p.id}  ${p.status}  ${p.alias} ${p.from ?? "(unset)"} → ${p.version}  by ${p.requestedBy}  ` +
            `${p.approvals.length}/${p.approvalsRequired} approvals${p.note ? `  "${p.note}"` : ""}`,
        );
        if (page.nextCursor) lines.push(`(more: --cursor ${page.nextCursor})`);
        return lines.join("\n") || "(none)";
      });
    });

  const tag = program.command("tag").description("tag registry collections and their versions");
  for (const [verb, description] of [
    ["add", "add tags"],
    ["rm", "remove tags"],
  ] as const) {
    tag
      .command(verb)
      .description(description)
      .argument("<ref>", "@registry/collection or @registry/collection:version")
      .argument("<tags...>")
      .action(async (ref: string, tags: string[], _options: unknown, command: Command) => {
        const mreg = await client(command);
        for (const name of tags) {
          if (verb === "add") await mreg.addTag(ref, name);
          else await mreg.removeTag(ref, name);
        }
        print(
          command,
          { ref, [verb === "add" ? "added" : "removed"]: tags },
          () => `${verb === "add" ? "tagged" : "untagged"} ${ref}: ${tags.join(", ")}`,
        );
      });
  }

  program
    .command("ls")
    .description("list registries, a project's artifacts, a registry's collections, versions, or a version's files")
    .argument("[ref]", "nothing, project, project/artifact[:version], @registry or @registry/collection[:version]")
    .option("--tag <tag>", "collections with this tag (@registry only)")
    .option("-q, --query <text>", "collections matching this text (@registry only)")
    .option("--prefix <path>", "files under this path (versions only)")
    .option("--limit <n>", "items per page", positiveInt)
    .option("--cursor <cursor>", "page to continue from")
    .action(
      async (
        ref: string | undefined,
        options: { tag?: string; query?: string; prefix?: string; limit?: number; cursor?: string },
        command: Command,
      ) => {
        const mreg = await client(command);
        const page = await mreg.list(ref === undefined ? undefined : (await refs()).parseRef(ref), {
          ...(options.limit === undefined ? {} : { limit: options.limit }),
          ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
          ...(options.tag === undefined ? {} : { tag: options.tag }),
          ...(options.query === undefined ? {} : { q: options.query }),
          ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
        });
        print(command, page, () => {
          const lines = page.items.map(describeItem);
          if (page.nextCursor) lines.push(`(more: --cursor ${page.nextCursor})`);
          return lines.join("\n") || "(none)";
        });
      },
    );

  program
    .command("show")
    .description("show an artifact, a version, a registry or a collection")
    .argument("<ref>")
    .action(async (ref: string, _options: unknown, command: Command) => {
      const mreg = await client(command);
      const result = await mreg.show(ref);
      print(command, result, () => JSON.stringify(result, null, 2));
    });

  program
    .command("delete")
    .description("delete an artifact with all its versions, or a project (org admins), in a background job")
    .argument("<ref>", "project/artifact or project")
    .option("--dry-run", "show what would go; delete nothing")
    .option("--force", "unlink linked versions first (protected aliases: registry admins only); skipped otherwise")
    .option("--older-than <time>", "only versions older than this (ISO time or 30d, 12h, 90m)")
    .option("--no-alias", "only versions that hold no alias")
    .option("--not-linked", "only versions no collection links")
    .option("--wait", "follow the job until it finishes")
    .action(
      async (
        ref: string,
        options: { dryRun?: boolean; force?: boolean; olderThan?: string; alias?: boolean; notLinked?: boolean; wait?: boolean },
        command: Command,
      ) => {
        const mreg = await client(command);
        const filter = {
          ...(options.olderThan === undefined ? {} : { olderThan: options.olderThan }),
          ...(options.alias === false ? { aliasAbsent: true } : {}),
          ...(options.notLinked ? { notLinked: true } : {}),
        };
        const result = await mreg.bulkDelete(ref, {
          dryRun: options.dryRun,
          force: options.force,
          ...(Object.keys(filter).length > 0 ? { filter } : {}),
        });
        if ("dryRun" in result) {
          print(command, result, () =>
            [
              ...result.versions.map((v) => `would delete ${v.project}/${v.artifact}:${v.version} (${v.fileCount} files, ${v.size} bytes)`),
              ...result.skipped.map((s) => `would keep ${s.version}: ${s.reason}`),
              ...result.links.map((l) => `would unlink ${l}`),
              ...result.artifacts.map((a) => `would delete artifact ${a}`),
              `${result.versions.length} versions, ${result.files} files, ${result.logicalBytes} bytes`,
            ].join("\n"),
          );
          return;
        }
        let job = result;
        while (options.wait && (job.status === "queued" || job.status === "running")) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          job = await mreg.job(job.id);
        }
        print(command, job, () => describeJob(job));
      },
    );

  program
    .command("job")
    .description("a background job (bulk delete) with its progress")
    .argument("<id>")
    .action(async (id: string, _options: unknown, command: Command) => {
      const mreg = await client(command);
      const job = await mreg.job(id);
      print(command, job, () => describeJob(job));
    });

  program
    .command("usage")
    .description("storage of a project, or of the whole registry (org admins): logical and stored bytes, dedup ratio")
    .argument("[project]")
    .action(async (project: string | undefined, _options: unknown, command: Command) => {
      const mreg = await client(command);
      const usage = await mreg.usage(project);
      print(command, usage, () =>
        [
          `logical   ${formatBytes(usage.logicalBytes)}`,
          `stored    ${formatBytes(usage.storedBytes)} in ${usage.blobs} blobs (dedup ${usage.dedupRatio}x)`,
          `versions  ${usage.versions}, files ${usage.files}`,
        ].join("\n"),
      );
    });

  program
    .command("history")
    .description("changes to an artifact or a collection, newest first")
    .argument("<ref>", "project/artifact or @registry/collection")
    .option("--limit <n>", "events per page", positiveInt)
    .option("--cursor <cursor>", "page to continue from")
    .action(async (ref: string, options: { limit?: number; cursor?: string }, command: Command) => {
      const mreg = await client(command);
      const page = await mreg.history(ref, options);
      print(
        command,
        page,
        () =>
          page.items
            .map((event) => {
              const { action, actor, at, ...details } = event;
              const rest = Object.entries(details)
                .filter(([, v]) => v !== undefined && typeof v !== "object")
                .map(([k, v]) => `${k}=${String(v)}`)
                .join(" ");
              return `${at}  ${actor}  ${action}  ${rest}`.trimEnd();
            })
            .join("\n") || "(no events)",
      );
    });

  program
    .command("lineage")
    .description("runs and versions around a version")
    .argument("<ref>", "project/artifact[:version] or @registry/collection[:version]")
    .option("--depth <n>", "hops to follow", positiveInt)
    .action(async (ref: string, options: { depth?: number }, command: Command) => {
      const mreg = await client(command);
      const result = await mreg.lineage(ref, options);
      print(command, result, () => JSON.stringify(result, null, 2));
    });

  return program;
}

interface LogCliOptions {
  project: string;
  name: string;
  type: string;
  alias: string[];
  metadata?: Record<string, unknown>;
  description?: string;
  ref: string[];
  run?: string;
  hashFirst?: boolean;
}

function describeItem(item: unknown): string {
  if (typeof item !== "object" || item === null) return String(item);
  const record = item as Record<string, unknown>;
  if (typeof record.path === "string") {
    const what = typeof record.sha256 === "string" ? record.sha256.slice(0, 12) : String(record.ref ?? "");
    return `${record.path}  ${formatBytes(Number(record.size ?? 0))}  ${what}`;
  }
  if (typeof record.version === "string") {
    const aliases = Array.isArray(record.aliases) && record.aliases.length > 0 ? `  [${record.aliases.join(", ")}]` : "";
    return `${record.version}  ${String(record.createdAt ?? "")}  ${formatBytes(Number(record.size ?? 0))}  ${String(record.fileCount ?? "")} files${aliases}`;
  }
  const name = record.name ?? record.id;
  const extra = [record.type, record.latest === undefined ? undefined : `latest ${String(record.latest)}`, record.description]
    .filter((v) => typeof v === "string" && v !== "")
    .join("  ");
  return `${String(name)}${extra ? `  ${extra}` : ""}`;
}

async function readKey(): Promise<string> {
  const { createInterface } = await import("node:readline/promises");
  if (process.stdin.isTTY) process.stderr.write("API key: ");
  const lines = createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    lines.close();
    return line.trim();
  }
  return "";
}

/** The registry says who the key belongs to; an unknown key is a 401 and fails the login. */
async function verifyKey(url: string, apiKey: string): Promise<void> {
  const { ApiClient } = await import("./api-client.js");
  const api = new ApiClient({ url, apiKey, retry: { retries: 1 } });
  await api.get("/v1/health");
  await api.get("/v1/me");
}

function describeJob(job: JobResponse): string {
  const { total, done, failed, skipped } = job.progress;
  const lines = [
    `job ${job.id} (${job.kind} ${job.project}${job.artifact ? `/${job.artifact}` : ""}): ${job.status}, ` +
      `${done}${total === undefined ? "" : `/${total}`} deleted, ${skipped} skipped, ${failed} failed`,
    ...job.skipped.map((s) => `  kept ${s.version}: ${s.reason}`),
    ...(job.errors ?? []).map((e) => `  error: ${e}`),
  ];
  return lines.join("\n");
}
