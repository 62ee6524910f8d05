/**
 * `npm run bench:depth -- [model.gguf] [--depth 2700] [--configs '[{"batch":256}]']`
 *
 * What a multi-turn chat pays for depth, in the engine alone: a 430-token prefill into an empty
 * sequence, then the same tokens after `depth` cached ones, per context configuration (batch
 * size, flash attention, KV cache type). The chat workload's later turns read their new tokens
 * against the whole cached conversation; this separates that attention cost from the server.
 * Default model: the bench's Lunaris shape if present, else the tiny test model.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { getLlama, type Token } from "node-llama-cpp";
import { ENGINE_BUILD_CMAKE_OPTIONS } from "../../src/engine/llama/LlamaEngine.js";
import { tinyModelPath } from "../../src/model/tinyModel.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { depth: { type: "string", default: "2700" }, configs: { type: "string", default: '[{"batch":256}]' } },
});
type Config = { batch: number; fa?: boolean; kv?: "F16" | "Q8_0" };
const lunaris = ".cache/bench/lunaris-q4_k_m.gguf";
const modelPath = positionals[0] ?? (existsSync(lunaris) ? lunaris : tinyModelPath());
const depth = Number(values.depth);
const threads = os.availableParallelism();

const llama = await getLlama({
  gpu: false,
  build: "never",
  maxThreads: threads,
  cmakeOptions: ENGINE_BUILD_CMAKE_OPTIONS,
});
const model = await llama.loadModel({ modelPath });
const words = (n: number, shift: number) => Array.from({ length: n }, (_, i) => `w${(i * 7 + shift) % 97}`).join(" ");
const filler = model.tokenize(words(depth, 1)).slice(0, depth) as Token[];
const tail = model.tokenize(words(430, 5)).slice(0, 430) as Token[];

for (const c of JSON.parse(values.configs) as Config[]) {
  const ctx = await model.createContext({
    sequences: 4,
    contextSize: 8192,
    batchSize: c.batch,
    threads,
    flashAttention: c.fa ?? true,
    ...(c.kv ? { experimentalKvCacheKeyType: c.kv, experimentalKvCacheValueType: c.kv } : {}),
  });
  const seq = ctx.getSequence();
  const timed = async (tokens: Token[]) => {
    const t = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(tokens);
    return performance.now() - t;
  };
  await timed(tail.slice(0, 64)); // page the weights in
  await seq.clearHistory();
  const shallow = await timed(tail);
  await seq.clearHistory();
  await timed(filler);
  const deep = await timed(tail);
  process.stdout.write(
    `${JSON.stringify(c)}: ${tail.length} tokens after 0 cached: ${shallow.toFixed(0)} ms; ` +
      `after ${filler.length}: ${deep.toFixed(0)} ms; ratio ${(deep / shallow).toFixed(2)}\n`,
  );
  await ctx.dispose();
}
await llama.dispose();
