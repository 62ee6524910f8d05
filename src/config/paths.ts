import { existsSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Downloaded and generated models. */
export function defaultCacheDir(): string {
  return process.env.LUNARIS_HOME
    ? path.join(process.env.LUNARIS_HOME, "models")
    : path.join(os.homedir(), ".cache", "lunaris");
}

/** The SQLite ledger and other state. */
export function defaultDataDir(): string {
  if (process.env.LUNARIS_DATA_DIR) return process.env.LUNARIS_DATA_DIR;
  if (process.env.LUNARIS_HOME) return path.join(process.env.LUNARIS_HOME, "data");
  return path.join(os.homedir(), ".local", "share", "lunaris");
}

/**
 * This process's folder for saved prefix states (PrefixStore), under the cache folder: one per
 * process, so replicas on one machine never share or wipe each other's. Folders left by
 * processes that are gone are removed here.
 */
export function prefixCacheDir(cacheDir: string): string {
  const root = path.join(cacheDir, "prefix-cache");
  for (const name of existsSync(root) ? readdirSync(root) : []) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid))
      rmSync(path.join(root, name), { recursive: true, force: true });
  }
  return path.join(root, String(process.pid));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
