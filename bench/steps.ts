/**
 * `npm run bench:steps -- [model.gguf] [--streams 1,2,4]`
 *
 * Our scheduler's lock-step decode in the engine alone (no HTTP): B streams of 24 tokens at
 * once, inter-token latency per stream. Compare with llama.cpp's own batched decode at the same
 * settings: `.cache/bench/llama.cpp/build/bin/llama-batched-bench -m MODEL -c 32768 -b 256
 * -ub 256 -npp 16 -ntg 24 -npl 1,2,4 -t 2 -tb 2 -fa on --no-kv-unified` (T_TG / 24 per step;
 * LD_LIBRARY_PATH=that folder on that command only: exported, it also reaches this script, whose
 * engine then loads that build's OpenMP libggml and aborts on exit with "free(): corrupted …").
 * Default model: the bench's Lunaris shape if present.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { LlamaEngine } from "../src/engine/LlamaEngine.js";
import type { GenerationRequest } from "../src/engine/types.js";
import { tinyModelPath } from "../test/helpers/testModel.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { streams: { type: "string", default: "1,2,4" } } });
const lunaris = ".cache/bench/lunaris-q4_k_m.gguf";
const modelPath = positionals[0] ?? (existsSync(lunaris) ? lunaris : tinyModelPath());
const engine = await LlamaEngine.load({
  modelPath, id: "bench", aliases: [], demo: false, gpu: "off", threads: os.availableParallelism(), parallel: 4,
  contextSize: 8192, maxQueue: 64, queueTimeoutMs: 600_000, log: () => undefined,
});
const words = "river stone lantern orchard velvet harbor meadow ember quartz willow".split(" ");
const request = (i: number): GenerationRequest => ({
  model: "bench",
  prompt: { type: "text", text: Array.from({ length: 12 }, (_, k) => words[(k * 7 + i * 3) % words.length]).join(" ") },
  maxTokens: 24,
  stopSequences: [],
  choices: 1,
  // llama-server's default sampling, as in the main bench; no end of generation, so every stream runs 24 tokens.
  sampling: { temperature: 0.8, topP: 0.95, topK: 40, minP: 0.05, seed: i + 1, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, ignoreEos: true },
});
for (const streams of values.streams.split(",").map(Number)) {
  const itl = await Promise.all(
    Array.from({ length: streams }, async (_, i) => {
      const at: number[] = [];
      for await (const e of engine.generate(request(i))) if (e.type === "text") at.push(performance.now());
      return ((at.at(-1) ?? 0) - (at[0] ?? 0)) / Math.max(1, at.length - 1);
    }),
  );
  process.stdout.write(`${streams} stream(s): inter-token latency ${itl.map((x) => x.toFixed(0)).join(" / ")} ms\n`);
}
await engine.close();
