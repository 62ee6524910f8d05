/**
 * `npm run bench:server-share -- [model.gguf] [--turns 8] [--words 300] [--streams 4] [--rounds 2]`
 *
 * How much of what a client waits for is the server's own work, not llama.cpp's: the real
 * server (in this process, so its engine can be watched) on the bench's Lunaris shape, every
 * llama_decode timed through node-llama-cpp's native context (test/helpers/decodeLog.ts).
 * - A multi-turn chat (the bench's workload): per turn, time to first token against the time
 *   spent inside llama_decode until then. What is left is HTTP, templating, tokenizing,
 *   admission and sampling; if it grew with the conversation, the server would add to the
 *   multi-turn ratio.
 * - N streams at once: per step, the decode against the gap until the next decode starts
 *   (sampling N tokens, streaming them out, the scheduler's next step).
 * Default model: the bench's Lunaris shape if present (`npm run bench` makes it), else the tiny
 * test model.
 */
import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type DecodeRecord, logDecodes } from "../../src/engine/llama/decodeLog.js";
import { tinyModelPath } from "../../src/model/tinyModel.js";
import { startInProcess } from "../servers.js";
import { MultiTurnChat, percentile, randomWords, streamChat } from "../workloads.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    turns: { type: "string", default: "8" },
    words: { type: "string", default: "300" },
    streams: { type: "string", default: "4" },
    rounds: { type: "string", default: "2" },
  },
});
const lunaris = ".cache/bench/lunaris-q4_k_m.gguf";
const model = positionals[0] ?? (existsSync(lunaris) ? lunaris : tinyModelPath());
const threads = os.availableParallelism();
const server = await startInProcess(mkdtempSync(path.join(os.tmpdir(), "lunaris-share-")), {
  model,
  ctxSize: 8192,
  parallel: 4,
  threads,
});
const decodes = logDecodes(server.engine);
const base = `${server.url}/v1`;
const out = (line: string) => process.stdout.write(`${line}\n`);
const ms = (x: number) => `${x.toFixed(0)} ms`;

/** Decode time inside [from, to]: decodes that both started and ended in the window. */
const decodeTimeIn = (from: number, to: number, log: readonly DecodeRecord[]) =>
  log
    .filter((d) => d.startedAt >= from && d.endedAt !== null && d.endedAt <= to)
    .reduce((a, d) => a + ((d.endedAt as number) - d.startedAt), 0);

try {
  out(`model ${path.basename(model)}, ${threads} threads, 4 sequences`);
  out(`\nmulti-turn chat, ${values.words} words a turn:`);
  const chat = new MultiTurnChat(base, Number(values.words), 16);
  for (let turn = 1; turn <= Number(values.turns); turn++) {
    decodes.length = 0;
    const sentAt = performance.now();
    const r = await chat.turn();
    const inDecode = decodeTimeIn(sentAt, sentAt + r.ttftMs, decodes);
    const straddling = decodes.filter((d) => d.startedAt < sentAt).length;
    out(
      `  turn ${turn}: ${r.readTokens} of ${r.promptTokens} prompt tokens read; first token after ${ms(r.ttftMs)}, ` +
        `${ms(inDecode)} of it in llama_decode, ${ms(r.ttftMs - inDecode)} outside` +
        (straddling > 0 ? ` (${straddling} decode(s) from before the request)` : ""),
    );
  }

  const n = Number(values.streams);
  out(`\n${n} streams at once, 24 tokens each:`);
  for (let round = 1; round <= Number(values.rounds); round++) {
    decodes.length = 0;
    await Promise.all(
      Array.from({ length: n }, () => streamChat(base, [{ role: "user", content: randomWords(12) }], 24)),
    );
    const steps = decodes.filter((d) => d.decodeSeqs.length === n && d.tokens === n && d.endedAt !== null);
    const stepMs = steps.map((d) => (d.endedAt as number) - d.startedAt);
    const gaps = steps.flatMap((d) => {
      const next = decodes[decodes.indexOf(d) + 1];
      return next && next.decodeSeqs.length === n ? [next.startedAt - (d.endedAt as number)] : [];
    });
    out(
      `  round ${round}: ${steps.length} steps; decode median ${ms(percentile(stepMs, 50))}; ` +
        `gap to the next decode median ${percentile(gaps, 50).toFixed(1)} ms, p90 ${percentile(gaps, 90).toFixed(1)} ms`,
    );
  }
} finally {
  await server.close();
}
