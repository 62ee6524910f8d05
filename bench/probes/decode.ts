/**
 * `node --import tsx bench/probes/decode.ts [model.gguf] [--sequences 4]`
 *
 * Native decode time per token, our engine build (scripts/build-engine.mjs: persistent thread
 * pool) against node-llama-cpp's prebuilt binaries, each in its own process: one stream, 40
 * tokens after an 8-token prompt (the faster of two runs per process), llama-server's default sampling, a context shaped like the
 * server's (4 sequences × 8192). Default model: the bench's 1B shape if present, else the tiny
 * test model.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { getLlama, type Token } from "node-llama-cpp";
import { ENGINE_BUILD_CMAKE_OPTIONS } from "../../src/engine/llama/LlamaEngine.js";
import { tinyModelPath } from "../../src/model/tinyModel.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { sequences: { type: "string", default: "4" }, binary: { type: "string" } },
});
const small = ".cache/bench/small-q4_k_m.gguf";
const model = positionals[0] ?? (existsSync(small) ? small : tinyModelPath());
const threads = os.availableParallelism();

async function measure(binary: "local" | "prebuilt"): Promise<void> {
  const llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: threads,
    // The engine build's folder is named after its CMake options; none selects the prebuilt binaries.
    cmakeOptions: binary === "local" ? ENGINE_BUILD_CMAKE_OPTIONS : {},
  });
  const m = await llama.loadModel({ modelPath: model });
  const ctx = await m.createContext({
    sequences: Number(values.sequences),
    contextSize: 8192,
    batchSize: 256,
    threads,
    flashAttention: true,
  });
  const seq = ctx.getSequence();
  const prompt = m.tokenize("river stone lantern orchard velvet harbor meadow ember") as Token[];
  const perToken: number[] = [];
  for (let round = 0; round < 2; round++) {
    await seq.clearHistory();
    let n = 0;
    let t0 = 0;
    for await (const _ of seq.evaluate(prompt, {
      temperature: 0.8,
      topK: 40,
      topP: 0.95,
      minP: 0.05,
      seed: round + 1,
    })) {
      if (n === 0) t0 = performance.now();
      if (++n > 40) break;
    }
    perToken.push((performance.now() - t0) / 40);
  }
  process.stdout.write(`${JSON.stringify({ binary: llama.buildType, msPerToken: Math.min(...perToken) })}\n`);
  await llama.dispose();
}

if (values.binary === "local" || values.binary === "prebuilt") {
  await measure(values.binary);
} else {
  // Alternate the two binaries, three processes each: this VM's speed drifts by ±20% over
  // minutes, and alternating spreads that over both.
  const runs: Record<string, number[]> = { local: [], prebuilt: [] };
  for (let i = 0; i < 3; i++) {
    for (const binary of ["local", "prebuilt"] as const) {
      const out = execFileSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "bench/probes/decode.ts",
          model,
          "--sequences",
          String(values.sequences),
          "--binary",
          binary,
        ],
        {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        },
      );
      const r = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { binary: string; msPerToken: number };
      if (binary === "local" && r.binary !== "localBuild")
        throw new Error("no engine build found: run node scripts/build-engine.mjs");
      runs[binary]?.push(r.msPerToken);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] ?? Number.NaN;
  const local = median(runs.local ?? []);
  const prebuilt = median(runs.prebuilt ?? []);
  process.stdout.write(
    `${model}, ${threads} threads, ${values.sequences} sequences × 8192; 40 tokens, median of 3 processes each, alternated\n` +
      `engine build (thread pool): ${local.toFixed(1)} ms/token   [${(runs.local ?? []).map((x) => x.toFixed(1)).join(", ")}]\n` +
      `prebuilt binaries:          ${prebuilt.toFixed(1)} ms/token   [${(runs.prebuilt ?? []).map((x) => x.toFixed(1)).join(", ")}]\n` +
      `speed-up: ${(prebuilt / local).toFixed(2)}×\n`,
  );
}
