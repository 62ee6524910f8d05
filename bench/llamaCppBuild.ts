import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

/**
 * Builds llama.cpp's own tools (llama-server, llama-quantize, llama-batched-bench) from the
 * source node-llama-cpp ships (`llama/gitRelease.bundle`): the very same llama.cpp commit our
 * engine runs, built once into a cache folder, without network.
 */
export const BENCH_CACHE = path.resolve(".cache/bench");
export const LLAMA_CPP_SRC = path.join(BENCH_CACHE, "llama.cpp");
const SRC = LLAMA_CPP_SRC;
const BUILD = path.join(SRC, "build");
const TARGETS = ["llama-server", "llama-quantize", "llama-batched-bench"] as const;

export type LlamaTool = (typeof TARGETS)[number];

export function toolPath(tool: LlamaTool): string {
  return path.join(BUILD, "bin", tool);
}

function run(cmd: string, args: string[], cwd?: string): void {
  process.stderr.write(`$ ${cmd} ${args.join(" ")}\n`);
  execFileSync(cmd, args, { cwd, stdio: ["ignore", "inherit", "inherit"] });
}

/** llama.cpp's source at node-llama-cpp's commit, checked out of the bundle the package ships. */
export function ensureLlamaCppSource(): string {
  mkdirSync(BENCH_CACHE, { recursive: true });
  if (!existsSync(path.join(SRC, ".git"))) {
    // The package's main entry is dist/index.js; the bundle sits in its llama/ folder.
    const main = createRequire(import.meta.url).resolve("node-llama-cpp");
    const bundle = path.join(main, "..", "..", "llama", "gitRelease.bundle");
    run("git", ["clone", "--quiet", bundle, SRC]);
  }
  return SRC;
}

export function ensureLlamaCppTools(): void {
  if (TARGETS.every((t) => existsSync(toolPath(t)))) return;
  ensureLlamaCppSource();
  run("cmake", [
    "-S", SRC, "-B", BUILD,
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=ON", // node-llama-cpp's prebuilt picks the best CPU variant at runtime: same code paths
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
  ]);
  run("cmake", ["--build", BUILD, "--config", "Release", "-j", String(os.availableParallelism()), "--target", ...TARGETS]);
}

if (import.meta.url === `file://${process.argv[1]}`) ensureLlamaCppTools();
