/**
 * `npm run bench:evicted -- [--words 700] [--model file.gguf]`
 *
 * Does keeping evicted prefixes pay? One sequence; a chat's first turn (a ~`words`-word
 * message), then an unrelated short chat that takes the sequence, then the first chat's second
 * turn: its time to first token with the prefix store (`--prefix-cache-gib 4`) and without (0),
 * each on a fresh server. Default model: the bench's Lunaris shape.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startLunaris } from "../servers.js";
import { randomWords, streamChat } from "../workloads.js";

const { values: args } = parseArgs({
  options: {
    words: { type: "string", default: "700" },
    model: { type: "string", default: ".cache/bench/lunaris-q4_k_m.gguf" },
  },
});
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
for (const gib of [4, 0]) {
  const server = await startLunaris(
    { model: args.model, threads: os.availableParallelism(), slots: 1, ctxPerSlot: 8192, prefixCacheGib: gib },
    mkdtempSync(path.join(os.tmpdir(), "lunaris-evicted-")),
  );
  try {
    const chat: Parameters<typeof streamChat>[1] = [
      { role: "system", content: "You are a storyteller." },
      { role: "user", content: randomWords(Number(args.words)) },
    ];
    const t1 = await streamChat(server.base, chat, 8);
    chat.push({ role: "assistant", content: t1.text }, { role: "user", content: "And then?" });
    const other = await streamChat(server.base, [{ role: "user", content: randomWords(20) }], 8);
    const t2 = await streamChat(server.base, chat, 8);
    process.stdout.write(
      `prefix store ${gib} GiB: turn 1 ${t1.promptTokens} prompt tokens, first token after ${s(t1.ttftMs)}; ` +
        `the other chat took ${s(other.totalMs)}; turn 2 ${t2.promptTokens} prompt tokens (${t2.cachedTokens} cached), first token after ${s(t2.ttftMs)}\n`,
    );
  } finally {
    await server.stop();
  }
}
