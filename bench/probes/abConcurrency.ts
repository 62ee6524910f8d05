/**
 * `npm run bench:ab -- [model.gguf] [--streams 4] [--rounds 8] [--tokens 24] [--threads N]`
 *
 * One concurrency level of `npm run bench`, ours against llama-server, over more rounds than the
 * full benchmark gives it: both servers up (same model file, threads, 4 slots × 8192, same
 * banned tokens), taking turns round by round, the order flipping each time, so the VM's drift
 * falls on both. Prints every round and the means. Default model: the bench's Lunaris shape
 * (`npm run bench` makes it and the llama.cpp tools).
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ensureLlamaCppTools } from "../llamaCppBuild.js";
import { partialUtf8Tokens } from "../partialUtf8.js";
import { type BenchServer, inTurn, startLlamaServer, startLunaris } from "../servers.js";
import { banTokens, concurrent } from "../workloads.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    streams: { type: "string", default: "4" },
    rounds: { type: "string", default: "8" },
    tokens: { type: "string", default: "24" },
    threads: { type: "string", default: String(os.availableParallelism()) },
  },
});
const model = positionals[0] ?? ".cache/bench/lunaris-q4_k_m.gguf";
const streams = Number(values.streams);
const rounds = Number(values.rounds);
ensureLlamaCppTools();
banTokens(await partialUtf8Tokens(model));
const settings = { model, threads: Number(values.threads), slots: 4, ctxPerSlot: 8192 };
const servers: BenchServer[] = [];
const agg = new Map<string, number[]>();
const itl = new Map<string, number[]>();
const errors = new Map<string, number>();
const mean = (x: readonly number[]) => x.reduce((a, b) => a + b, 0) / Math.max(1, x.length);
const out = (line: string) => process.stdout.write(`${line}\n`);
try {
  servers.push(
    await startLunaris(settings, mkdtempSync(path.join(os.tmpdir(), "lunaris-ab-"))),
    await startLlamaServer(settings),
  );
  for (const s of servers) await concurrent(s.base, streams, 4); // warm-up
  out(
    `${path.basename(model)}, ${streams} streams × ${values.tokens} tokens, ${rounds} rounds, ${settings.threads} threads`,
  );
  for (let r = 0; r < rounds; r++) {
    for (const [name, x] of await inTurn(servers, r, errors, (s) =>
      concurrent(s.base, streams, Number(values.tokens)),
    )) {
      agg.set(name, [...(agg.get(name) ?? []), x.aggregateTps]);
      itl.set(name, [...(itl.get(name) ?? []), x.itlMs]);
    }
    out(
      `  round ${r + 1}: ${servers.map((s) => `${s.name} ${agg.get(s.name)?.at(-1)?.toFixed(2)} tok/s (${itl.get(s.name)?.at(-1)?.toFixed(0)} ms between tokens)`).join(", ")}`,
    );
  }
} finally {
  for (const s of servers) await s.stop();
}
const [ours, theirs] = servers.map((s) => mean(agg.get(s.name) ?? []));
out(
  `means: ${servers.map((s) => `${s.name} ${mean(agg.get(s.name) ?? []).toFixed(2)} tok/s, ${mean(itl.get(s.name) ?? []).toFixed(0)} ms between tokens`).join("; ")}; ` +
    `ours / llama-server ${((ours ?? 0) / (theirs ?? 1)).toFixed(3)}; ` +
    `streams ended by a server error: ${servers.map((s) => `${s.name} ${errors.get(s.name) ?? 0}`).join(", ")}`,
);
