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

// The tests also drive llama.cpp's own llama-server (the gateway's llama-server upstream kind),
// built once per machine from the same bundled source into a per-user cache.
if (process.argv.includes("--llama-server") && process.env.LUNARIS_LLAMA_SERVER_BUILD !== "off") {
  const { ensureLlamaCppTools, llamaToolPath } = await import("./llama-cpp-tools.mjs");
  if (!existsSync(llamaToolPath("llama-server")))
    process.stderr.write(
      "Building llama.cpp's llama-server for the fleet tests (once per machine, 4-12 minutes on 2 cores)…\n",
    );
  ensureLlamaCppTools(["llama-server"]);
}
