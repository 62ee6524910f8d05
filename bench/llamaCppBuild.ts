import path from "node:path";
import { ensureLlamaCppSource, ensureLlamaCppTools as build, llamaToolPath } from "../scripts/llama-cpp-tools.mjs";

/**
 * llama.cpp's own tools for the benchmarks (llama-server, llama-quantize, llama-batched-bench),
 * built once per machine from the source node-llama-cpp ships, at the very commit our engine
 * runs, into the per-user cache scripts/llama-cpp-tools.mjs keeps (the fleet tests share it).
 */
export const BENCH_CACHE = path.resolve(".cache/bench");
const TARGETS = ["llama-server", "llama-quantize", "llama-batched-bench"] as const;

export type LlamaTool = (typeof TARGETS)[number];

export function toolPath(tool: LlamaTool): string {
  return llamaToolPath(tool);
}

export { ensureLlamaCppSource };

export function ensureLlamaCppTools(): void {
  build(TARGETS);
}
