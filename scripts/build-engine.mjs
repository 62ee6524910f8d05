// Builds node-llama-cpp's native addon from the llama.cpp source it bundles (offline), with our
// patches applied (patches/node-llama-cpp+*.patch, by patch-package at install): a persistent CPU
// thread pool attached to each context, as llama.cpp's own server does. The prebuilt binaries
// start and join their worker threads on every llama_decode, which costs 5-10 ms per decode on
// a small VM (docs/engine.md, "Engine build"). OpenMP is off so that the pool is what runs.
//
// Runs once (a marker records the patch it was built with); skipped with LUNARIS_ENGINE_BUILD=off,
// without cmake or a C++ compiler, or off Linux/macOS. A failed build is removed, and the server
// then runs on node-llama-cpp's prebuilt binaries: slower, never broken. Output: .cache/engine-build.log.
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { engineCmakeOptions } from "./engine-cmake-options.mjs";

const llamaDir = "node_modules/node-llama-cpp/llama";
const buildsDir = path.join(llamaDir, "localBuilds");
const marker = path.join(buildsDir, ".lunaris-build.json");
const cli = "node_modules/node-llama-cpp/dist/cli/cli.js";
const logFile = ".cache/engine-build.log";

function say(message) {
  process.stderr.write(`[build-engine] ${message}\n`);
}

function has(command) {
  return spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
}

/** What the build depends on: the patches that change the addon's C++ (JavaScript-only ones need no rebuild). */
function wanted() {
  const patches = existsSync("patches")
    ? readdirSync("patches")
        .filter((f) => f.startsWith("node-llama-cpp+"))
        .sort()
    : [];
  const hash = createHash("sha256");
  for (const f of patches) {
    const text = readFileSync(path.join("patches", f), "utf8");
    if (text.includes("diff --git a/node_modules/node-llama-cpp/llama/")) hash.update(text);
  }
  return { patch: hash.digest("hex"), cmake: engineCmakeOptions(), gpu: false };
}

export function buildEngine() {
  if (process.env.LUNARIS_ENGINE_BUILD === "off") return;
  if (!["linux", "darwin"].includes(process.platform) || !existsSync(cli)) return;
  const want = wanted();
  if (existsSync(marker) && readFileSync(marker, "utf8") === JSON.stringify(want)) return;
  if (!has("cmake") || !(has("c++") || has("g++") || has("clang++"))) {
    say(
      "cmake or a C++ compiler is missing: using node-llama-cpp's prebuilt binaries (slower per token; see docs/engine.md).",
    );
    return;
  }
  say("building the inference engine from llama.cpp's bundled source with a persistent CPU thread pool.");
  say("One time, about 5 minutes on 2 cores; LUNARIS_ENGINE_BUILD=off skips it (prebuilt binaries are used then).");
  const started = Date.now();
  const hasSource = existsSync(path.join(llamaDir, "llama.cpp", "CMakeLists.txt"));
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = openSync(logFile, "w");
  const before = new Set(existsSync(buildsDir) ? readdirSync(buildsDir) : []);
  try {
    execFileSync(
      process.execPath,
      [cli, "source", hasSource ? "build" : "download", "--gpu", "false", "--noUsageExample"],
      {
        stdio: ["ignore", log, log],
        env: {
          ...process.env,
          ...Object.fromEntries(
            Object.entries(engineCmakeOptions()).map(([k, v]) => [`NODE_LLAMA_CPP_CMAKE_OPTION_${k}`, v]),
          ),
        },
      },
    );
    writeFileSync(marker, JSON.stringify(want));
    say(`done in ${Math.round((Date.now() - started) / 1000)} s (log: ${logFile}).`);
  } catch (error) {
    // Only what this build left: another local build (a user's CUDA one) stays.
    for (const entry of existsSync(buildsDir) ? readdirSync(buildsDir) : []) {
      if (!before.has(entry)) rmSync(path.join(buildsDir, entry), { recursive: true, force: true });
    }
    const tail = readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n");
    say(
      `the build failed (${error.message.split("\n")[0]}); using node-llama-cpp's prebuilt binaries. Last lines of ${logFile}:\n${tail}`,
    );
  } finally {
    closeSync(log);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) buildEngine();
