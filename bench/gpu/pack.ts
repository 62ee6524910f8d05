/**
 * `npm run bench:gpu-pack`: packs what the GPU benchmark needs into .cache/gpu-bundle/ for the
 * GPU test machine, which has CUDA, nvcc and cmake but no network and no Node.js, and receives
 * at most 64 MiB:
 *   node.xz              this Node.js binary, xz-compressed (~24 MB)
 *   node_modules.tar.xz  the runtime dependencies, without node-llama-cpp's prebuilt binaries
 *                        (the CUDA addon is built on the device), the llama.cpp git bundle and
 *                        dev-only packages
 *   llama.cpp.tar.xz     the llama.cpp sources the addon build needs (ggml, src, include, common,
 *                        vendor, cmake), plus llama-batched-bench so the very same build also
 *                        gives llama.cpp's own batched benchmark
 * The project's own files travel as the working tree. bench/gpu/gpu.sh unpacks and runs it all.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensureLlamaCppSource } from "../llamaCppBuild.js";

export const BUNDLE = path.resolve(".cache/gpu-bundle");
const LIMIT_MIB = 56; // leaves room for the working tree within the machine's 64 MiB

/** Packages never needed on the device. */
const EXCLUDE = [
  "node_modules/@node-llama-cpp", // prebuilt binaries: the device builds its own CUDA addon
  "node_modules/node-llama-cpp/llama/gitRelease.bundle",
  "node_modules/node-llama-cpp/llama/llama.cpp",
  "node_modules/node-llama-cpp/llama/localBuilds",
  "node_modules/node-llama-cpp/bins",
  "node_modules/.cache",
  "node_modules/playwright-core",
  "node_modules/typescript",
  "node_modules/eslint",
  "node_modules/@eslint",
  "node_modules/@typescript-eslint",
  "node_modules/typescript-eslint",
  "node_modules/openai",
  "node_modules/@types",
];

/** llama.cpp folders the addon build reads; tools/ is cut down to batched-bench. */
const LLAMA_PARTS = [
  "CMakeLists.txt",
  "cmake",
  "ggml",
  "src",
  "include",
  "common",
  "vendor",
  "licenses",
  "tools/batched-bench",
];

function xzTar(out: string, cwd: string, entries: string[], exclude: string[] = []): void {
  execFileSync("tar", ["-cJf", out, ...exclude.map((e) => `--exclude=${e}`), ...entries], {
    cwd,
    env: { ...process.env, XZ_OPT: "-9 -T0" },
    stdio: "inherit",
  });
}

function mib(file: string): number {
  return statSync(file).size / 2 ** 20;
}

export function packGpuBundle(): { files: Record<string, number>; totalMiB: number } {
  rmSync(BUNDLE, { recursive: true, force: true });
  mkdirSync(BUNDLE, { recursive: true });

  execFileSync("sh", ["-c", `xz -9 -T0 -c "${process.execPath}" > "${path.join(BUNDLE, "node.xz")}"`], {
    stdio: "inherit",
  });

  xzTar(path.join(BUNDLE, "node_modules.tar.xz"), process.cwd(), ["node_modules"], EXCLUDE);

  const src = ensureLlamaCppSource();
  const stage = path.join(BUNDLE, "stage");
  for (const part of LLAMA_PARTS) cpSync(path.join(src, part), path.join(stage, part), { recursive: true });
  // llama.cpp adds every tool when LLAMA_BUILD_TOOLS is on; only the batched benchmark is wanted.
  writeFileSync(
    path.join(stage, "tools", "CMakeLists.txt"),
    "llama_add_compile_flags()\nadd_subdirectory(batched-bench)\n",
  );
  xzTar(path.join(BUNDLE, "llama.cpp.tar.xz"), stage, ["."]);
  rmSync(stage, { recursive: true, force: true });

  const files: Record<string, number> = {};
  for (const f of ["node.xz", "node_modules.tar.xz", "llama.cpp.tar.xz"])
    files[f] = Number(mib(path.join(BUNDLE, f)).toFixed(1));
  const totalMiB = Number(
    Object.values(files)
      .reduce((a, b) => a + b, 0)
      .toFixed(1),
  );
  writeFileSync(
    path.join(BUNDLE, "manifest.json"),
    `${JSON.stringify({ node: process.version, files, totalMiB }, null, 2)}\n`,
  );
  if (totalMiB > LIMIT_MIB) throw new Error(`the GPU bundle is ${totalMiB} MiB, over ${LIMIT_MIB} MiB`);
  return { files, totalMiB };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!existsSync("node_modules/node-llama-cpp")) throw new Error("run npm ci first");
  const r = packGpuBundle();
  process.stdout.write(`${BUNDLE}: ${JSON.stringify(r.files)} = ${r.totalMiB} MiB\n`);
}
