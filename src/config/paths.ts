import os from "node:os";
import path from "node:path";

/** Downloaded and generated models. */
export function defaultCacheDir(): string {
  return process.env.LUNARIS_HOME ? path.join(process.env.LUNARIS_HOME, "models") : path.join(os.homedir(), ".cache", "lunaris");
}

/** The SQLite ledger and other state. */
export function defaultDataDir(): string {
  if (process.env.LUNARIS_DATA_DIR) return process.env.LUNARIS_DATA_DIR;
  if (process.env.LUNARIS_HOME) return path.join(process.env.LUNARIS_HOME, "data");
  return path.join(os.homedir(), ".local", "share", "lunaris");
}
