// Installs dependencies on a fresh clone (or after the lockfile changed), so `npm start` and
// `npm test` work as the first command run.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import process from "node:process";

const marker = "node_modules/.package-lock.json";
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync("package-lock.json").mtimeMs;
if (stale) {
  process.stderr.write("Installing dependencies (npm ci)…\n");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit" });
}

// Once: the engine's native addon with a persistent thread pool (scripts/build-engine.mjs).
const { buildEngine } = await import("./build-engine.mjs");
buildEngine();
