// Builds llama.cpp's own tools (llama-server for the fleet tests; llama-quantize and
// llama-batched-bench for the benchmarks) from the source node-llama-cpp ships
// (`llama/gitRelease.bundle`): the very llama.cpp commit our engine runs, without network.
//
// The build lives in a per-user cache outside the clone (`$XDG_CACHE_HOME/lunaris/llama.cpp/<commit>`,
// else `~/.cache/…`; LUNARIS_LLAMA_CPP_CACHE overrides it), so a machine builds it once for every
// clone. llama-server alone: 4-12 minutes on 2 cores. Static libraries, so the binaries run
// from anywhere; the engine's CMake options (AMX off on x64: scripts/engine-cmake-options.mjs).
//
//   node scripts/llama-cpp-tools.mjs [tool …]     builds the tools named (default: llama-server)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { engineCmakeOptions } from "./engine-cmake-options.mjs";

const require = createRequire(import.meta.url);

/** The bundle node-llama-cpp ships: its main entry is dist/index.js, the bundle sits in llama/. */
function bundlePath() {
  return path.join(require.resolve("node-llama-cpp"), "..", "..", "llama", "gitRelease.bundle");
}

/** node-llama-cpp's version and the llama.cpp tag it pins: the cache folder's name, so an upgrade rebuilds. */
function release() {
  const root = path.join(require.resolve("node-llama-cpp"), "..", "..");
  const read = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {});
  const version = read(path.join(root, "package.json")).version ?? "unknown";
  const tag = read(path.join(root, "llama", "llama.cpp.info.json")).tag ?? "unknown";
  return `${version}-${tag}`.replace(/[^A-Za-z0-9._-]/g, "_");
}

export function llamaCppCacheDir() {
  const base =
    process.env.LUNARIS_LLAMA_CPP_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "lunaris", "llama.cpp");
  return path.join(base, release());
}

export function llamaCppSourceDir() {
  return path.join(llamaCppCacheDir(), "src");
}

/** Where a built tool lives (it may not exist yet). */
export function llamaToolPath(tool) {
  return path.join(llamaCppCacheDir(), "build", "bin", tool);
}

function run(cmd, args) {
  process.stderr.write(`$ ${cmd} ${args.join(" ")}\n`);
  execFileSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
}

/** llama.cpp's source at node-llama-cpp's commit, cloned from the bundle the package ships. */
export function ensureLlamaCppSource() {
  const src = llamaCppSourceDir();
  if (existsSync(path.join(src, "CMakeLists.txt"))) return src;
  mkdirSync(path.dirname(src), { recursive: true });
  const partial = `${src}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  run("git", ["clone", "--quiet", bundlePath(), partial]);
  renameSync(partial, src); // a clone cut short never looks finished
  return src;
}

/** Builds the tools missing from the cache; returns their paths in the order asked. */
export function ensureLlamaCppTools(tools = ["llama-server"]) {
  const missing = tools.filter((t) => !existsSync(llamaToolPath(t)));
  if (missing.length > 0) {
    const src = ensureLlamaCppSource();
    const build = path.join(llamaCppCacheDir(), "build");
    const options = {
      ...engineCmakeOptions(),
      CMAKE_BUILD_TYPE: "Release",
      GGML_NATIVE: "ON", // node-llama-cpp's build picks the best CPU variant: same code paths
      BUILD_SHARED_LIBS: "OFF",
      LLAMA_OPENSSL: "OFF",
      LLAMA_BUILD_TESTS: "OFF",
      LLAMA_BUILD_EXAMPLES: "OFF",
      LLAMA_BUILD_UI: "OFF",
      LLAMA_USE_PREBUILT_UI: "OFF", // it would download the web UI
    };
    process.stderr.write(`[llama.cpp] building ${missing.join(", ")} once into ${build} (4-12 minutes on 2 cores)\n`);
    run("cmake", ["-S", src, "-B", build, ...Object.entries(options).map(([k, v]) => `-D${k}=${v}`)]);
    run("cmake", [
      "--build",
      build,
      "--config",
      "Release",
      "-j",
      String(os.availableParallelism()),
      "--target",
      ...missing,
    ]);
  }
  return tools.map(llamaToolPath);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const tools = process.argv.slice(2);
  for (const p of ensureLlamaCppTools(tools.length > 0 ? tools : undefined)) process.stdout.write(`${p}\n`);
}
