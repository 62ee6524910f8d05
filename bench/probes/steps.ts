/**
 * `npm run bench:steps -- [model.gguf] [--streams 1,2,4] [--tokens 24] [--raw]`
 *
 * Our scheduler's lock-step decode in the engine alone (no HTTP): B streams of N tokens at
 * once, inter-token latency per stream. `--raw` runs the same streams on the same context with
 * node-llama-cpp's own `evaluate` generators stepped together by `Promise.all`, without our
 * scheduler: what the library's token loop costs by itself. Compare both with llama.cpp's own
 * batched decode at the same settings: `.cache/bench/llama.cpp/build/bin/llama-batched-bench -m
 * MODEL -c 32768 -b 256 -ub 256 -npp 16 -ntg 24 -npl 1,2,4 -t 2 -tb 2 -fa on --no-kv-unified`
 * (T_TG / 24 per step; it decodes without sampling; LD_LIBRARY_PATH=that folder on that command
 * only: exported, it also reaches this script, whose engine then loads that build's OpenMP
 * libggml and aborts on exit with "free(): corrupted …").
 * Default model: the bench's Lunaris shape if present.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { LlamaEngine } from "../../src/engine/llama/LlamaEngine.js";
import type { GenerationRequest } from "../../src/engine/types.js";
import { tinyModelPath } from "../../src/model/tinyModel.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    streams: { type: "string", default: "1,2,4" },
    tokens: { type: "string", default: "24" },
    raw: { type: "boolean", default: false },
  },
});
const tokens = Number(values.tokens);
const lunaris = ".cache/bench/lunaris-q4_k_m.gguf";
const modelPath = positionals[0] ?? (existsSync(lunaris) ? lunaris : tinyModelPath());
const engine = await LlamaEngine.load({
  modelPath,
  id: "bench",
  aliases: [],
  demo: false,
  gpu: "off",
  threads: os.availableParallelism(),
  parallel: 4,
  contextSize: 8192,
  maxQueue: 64,
  queueTimeoutMs: 600_000,
  log: () => undefined,
});
const words = "river stone lantern orchard velvet harbor meadow ember quartz willow".split(" ");
const promptText = (i: number) => Array.from({ length: 12 }, (_, k) => words[(k * 7 + i * 3) % words.length]).join(" ");
// llama-server's default sampling, as in the main bench.
const sampling = (i: number) => ({ temperature: 0.8, topP: 0.95, topK: 40, minP: 0.05, seed: i + 1 });
const request = (i: number): GenerationRequest => ({
  model: "bench",
  prompt: { type: "text", text: promptText(i) },
  maxTokens: tokens,
  stopSequences: [],
  choices: 1,
  // No end of generation, so every stream runs all its tokens.
  sampling: { ...sampling(i), presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, ignoreEos: true },
});

/** Our path: the scheduler steps the streams (engine.generate). Times when each text event arrives. */
async function scheduled(i: number): Promise<number[]> {
  const at: number[] = [];
  for await (const e of engine.generate(request(i))) if (e.type === "text") at.push(performance.now());
  return at;
}

/**
 * node-llama-cpp alone, white box: the engine's own context and sequences (its scheduler is
 * idle between runs), one `evaluate` generator per stream, all advanced together each step.
 */
async function raw(streams: number): Promise<number[][]> {
  const inner = engine as unknown as { scheduler: { slots: { sequence: LlamaContextSequence }[] } };
  const sequences = inner.scheduler.slots.slice(0, streams).map((s) => s.sequence);
  const generators = sequences.map((seq, i) => {
    const evaluation = seq.evaluate(engine.tokenizeNow(promptText(i), true) as Token[], {
      ...sampling(i),
      yieldEogToken: true,
    });
    return evaluation[Symbol.asyncIterator]();
  });
  const at = sequences.map(() => [] as number[]);
  for (let t = 0; t < tokens; t++) {
    await Promise.all(
      generators.map(async (g, i) => {
        await g.next();
        at[i]?.push(performance.now());
      }),
    );
  }
  for (const g of generators) await g.return?.();
  for (const seq of sequences) await seq.clearHistory();
  return at;
}

process.stdout.write(
  `${values.raw ? "node-llama-cpp's evaluate, lock-stepped" : "our scheduler"}, ${tokens} tokens a stream\n`,
);
for (const streams of values.streams.split(",").map(Number)) {
  const times = values.raw
    ? await raw(streams)
    : await Promise.all(Array.from({ length: streams }, (_, i) => scheduled(i)));
  const itl = times.map((at) => ((at.at(-1) ?? 0) - (at[0] ?? 0)) / Math.max(1, at.length - 1));
  process.stdout.write(`${streams} stream(s): inter-token latency ${itl.map((x) => x.toFixed(1)).join(" / ")} ms\n`);
}
await engine.close();
