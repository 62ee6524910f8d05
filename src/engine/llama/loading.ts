import os from "node:os";
import { type Llama, type LlamaModel, getLlama } from "node-llama-cpp";
import { engineCmakeOptions } from "../../../scripts/engine-cmake-options.mjs";
import type { Llama3Specials } from "../chatPrompt.js";
import { missingCudaLibraries } from "./cudaCheck.js";
import type { LlamaEngineOptions } from "./LlamaEngine.js";

/** What LlamaEngine.load() needs besides the engine itself: the library, threads, GPU sizing, the model's facts. */

/** The options scripts/build-engine.mjs builds with (one source: scripts/engine-cmake-options.mjs). */
export const ENGINE_BUILD_CMAKE_OPTIONS = engineCmakeOptions();

/**
 * Default CPU threads: the cores llama.cpp counts for math (`cpuMathCores`: physical cores, the
 * performance cores of a hybrid Intel CPU), which is what llama-server defaults to. A decode's
 * threads meet at a barrier after every operation, so a hyperthread sibling or an efficiency
 * core holds the others back. Never more than this process may run on, and never
 * node-llama-cpp's own default, max(math cores, 4), which made a 2-core VM 25× slower.
 */
export function defaultThreads(mathCores: number, available = os.availableParallelism()): number {
  return Math.max(1, Math.min(mathCores, available));
}

/** llama.cpp through node-llama-cpp: our local build when there is one; a CUDA failure explained. */
export async function openLlama(o: LlamaEngineOptions): Promise<Llama> {
  try {
    return await getLlama({
      gpu: o.gpu === "off" ? false : o.gpu,
      build: "never", // never compile at runtime: prebuilt or a build made by `lunaris` beforehand
      // Selects scripts/build-engine.mjs's local build (node-llama-cpp names build folders after
      // their CMake options); without one, the prebuilt binaries.
      cmakeOptions: ENGINE_BUILD_CMAKE_OPTIONS,
      maxThreads: o.threads ?? 0, // set by load(), once the math cores are known
      logLevel: "error" as never,
    });
  } catch (e) {
    if (o.gpu !== "cuda") throw e;
    const missing = missingCudaLibraries();
    throw new Error(
      `--gpu cuda: node-llama-cpp could not load its CUDA build (${(e as Error).message.split("\n")[0]}).` +
        (missing.length > 0 ? ` Missing: ${missing.join("; ")}.` : "") +
        " See the README's GPU section, or run with --gpu auto to fall back to the CPU.",
    );
  }
}

/** The Llama 3 chat template's special tokens in this model's vocabulary. */
export function llama3Specials(model: LlamaModel): Llama3Specials {
  const tok = (s: string): number => {
    const ids = model.tokenize(s, true);
    if (ids.length !== 1 || ids[0] === undefined) throw new Error(`the model has no ${s} token: not a Llama 3 model`);
    return ids[0];
  };
  return {
    bos: model.tokens.bos ?? tok("<|begin_of_text|>"),
    startHeader: tok("<|start_header_id|>"),
    endHeader: tok("<|end_header_id|>"),
    eot: tok("<|eot_id|>"),
  };
}

export function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}

/** Most sequences a GPU can hold, at most 64 (llama.cpp's batched decode flattens out beyond). */
const MAX_GPU_SEQUENCES = 64;

/**
 * Default `--parallel` on a GPU: as many full-context sequences as the free VRAM holds after
 * the model (node-llama-cpp's own estimate of KV cache and compute buffers, 10% kept free),
 * between 1 and 64. An 8B bf16 model on an H200 gets 64 sequences of 8,192 tokens.
 */
export async function sequencesForVram(
  llama: Llama,
  model: LlamaModel,
  contextSize: number,
  batchSize: number,
): Promise<number> {
  const { free } = await llama.getVramState();
  const fits = async (n: number) => {
    const need = await model.fileInsights.estimateContextResourceRequirementsV2({
      contextSize,
      sequences: n,
      modelGpuLayers: model.gpuLayers,
      batchSize,
      flashAttention: true,
    });
    return need.gpuVram <= free * 0.9;
  };
  let lo = 1;
  let hi = MAX_GPU_SEQUENCES;
  if (!(await fits(lo))) return 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (await fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function quantizationName(model: LlamaModel): string {
  const ft = model.fileInfo.metadata.general.file_type;
  const names: Record<number, string> = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    7: "Q8_0",
    15: "Q4_K_M",
    17: "Q5_K_M",
    18: "Q6_K",
    32: "BF16",
  };
  return ft === undefined ? "unknown" : (names[ft] ?? `file_type ${ft}`);
}
