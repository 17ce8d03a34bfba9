import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import * as z from "zod";
import { MregError } from "./errors.js";

export const DEFAULT_URL = "http://127.0.0.1:8787";

const savedConfig = z.object({ url: z.url().optional(), apiKey: z.string().min(1).optional() });
export type SavedConfig = z.infer<typeof savedConfig>;

export interface ClientSettings {
  url: string;
  apiKey: string;
  cacheDir: string;
}

type Env = Record<string, string | undefined>;

/** `$MREG_CONFIG`, else `$XDG_CONFIG_HOME/mreg/config.json`, else `~/.config/mreg/config.json`. */
export function configPath(env: Env = process.env): string {
  if (env.MREG_CONFIG) return env.MREG_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "mreg", "config.json");
}

/** `$MREG_CACHE_DIR`, else `$XDG_CACHE_HOME/mreg`, else `~/.cache/mreg`. */
export function cacheDir(env: Env = process.env): string {
  if (env.MREG_CACHE_DIR) return env.MREG_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "mreg");
}

export async function readSavedConfig(path: string): Promise<SavedConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new MregError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MregError(`${path} is not valid JSON; run mreg login again`, { cause: error });
  }
  const parsed = savedConfig.safeParse(json);
  if (!parsed.success) throw new MregError(`${path} is not an mreg configuration; run mreg login again`);
  return parsed.data;
}

/** Written to a temp file with mode 0600 and renamed, so the key is never readable by others. */
export async function writeSavedConfig(path: string, config: SavedConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

/** Flags over environment over the saved configuration. */
export async function resolveSettings(overrides: { url?: string } = {}, env: Env = process.env): Promise<ClientSettings> {
  const saved = await readSavedConfig(configPath(env));
  const url = overrides.url || env.MREG_URL || saved.url || DEFAULT_URL;
  const apiKey = env.MREG_API_KEY || saved.apiKey;
  if (!apiKey) {
    throw new MregError("no API key: run mreg login, or set MREG_API_KEY");
  }
  return { url: url.replace(/\/+$/, ""), apiKey, cacheDir: cacheDir(env) };
}
