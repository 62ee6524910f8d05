/**
 * `npm run bench [-- --shape lunaris|small] [--quick]`
 *
 * Runs the same HTTP workloads against Lunaris Server and llama.cpp's own llama-server (built
 * from the llama.cpp commit node-llama-cpp ships), with the same model file, threads and slots.
 * Both servers run at once and take turns, workload by workload (and turn by turn in the chat),
 * the order flipping each time: this VM's speed drifts by 10–20% over minutes, which decided the
 * ratios when each server ran alone for ten minutes. An idle server costs nothing (only one
 * ever has work). Then measures our per-request overhead and RSS over 500 requests on the
 * tiny model. Writes bench/results/<shape>.json and .md, and the README's table.
 * The returning-chat workload compares what each server keeps of evicted conversations (ours:
 * the prefix store, default 4 GiB; llama-server: its --cache-ram prompt cache, default 8 GiB).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { BENCH_CACHE, ensureLlamaCppTools, toolPath } from "./llamaCppBuild.js";
import { measureOverheadAndRss } from "./overhead.js";
import { partialUtf8Tokens } from "./partialUtf8.js";
import { type BenchResult, type ServerResult, toMarkdown } from "./report.js";
import type { ConcurrencyResult, TurnResult } from "./workloads.js";
import { type BenchServer, type ServerSettings, inTurn, rssMiB, startLlamaServer, startLunaris } from "./servers.js";
import {
  MultiTurnChat,
  banTokens,
  concurrent,
  percentile,
  promptProcessing,
  returningChat,
  singleStream,
} from "./workloads.js";
import { makeModel } from "../src/model/makeModel.js";

const { values: args } = parseArgs({
  options: {
    shape: { type: "string", default: "lunaris" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const shape = args.shape === "small" ? "small" : "lunaris";
const quick = args.quick ?? false;
const W = quick
  ? {
      decodeTokens: 16,
      ppWords: 200,
      concurrency: [1, 2, 4],
      concTokens: 12,
      concRounds: 1,
      turns: 3,
      turnWords: 100,
      turnTokens: 8,
      returnWords: 200,
    }
  : {
      decodeTokens: 48,
      ppWords: 400,
      concurrency: [1, 2, 4, 8],
      concTokens: 24,
      concRounds: 4,
      turns: 8,
      turnWords: 300,
      turnTokens: 16,
      returnWords: 700,
    };

function log(m: string): void {
  process.stderr.write(`[bench] ${m}\n`);
}

/** The benchmark model: random weights in F16, quantized to Q4_K_M by llama.cpp's own llama-quantize. */
function ensureModel(): string {
  const modelShape = shape === "small" ? "small" : "lunaris";
  const out = path.join(BENCH_CACHE, `${modelShape}-q4_k_m.gguf`);
  if (existsSync(out)) return out;
  const f16 = path.join(BENCH_CACHE, `${modelShape}-f16.gguf`);
  log(`writing the ${modelShape}-shape model in F16 (random weights)…`);
  makeModel({ shape: modelShape, type: "f16", out: f16 });
  log("quantizing to Q4_K_M with llama-quantize…");
  execFileSync(toolPath("llama-quantize"), [f16, `${out}.tmp`, "Q4_K_M", String(os.availableParallelism())], {
    stdio: "ignore",
  });
  renameSync(`${out}.tmp`, out);
  rmSync(f16);
  return out;
}

const ROUNDS = 3;

function meanOverRounds(rounds: readonly ConcurrencyResult[]): ConcurrencyResult {
  const mean = (pick: (x: ConcurrencyResult) => number) => rounds.reduce((a, x) => a + pick(x), 0) / rounds.length;
  return {
    concurrency: rounds[0]?.concurrency ?? 0,
    aggregateTps: mean((x) => x.aggregateTps),
    aggregateRuns: rounds.map((x) => x.aggregateTps),
    decodeTps: mean((x) => x.decodeTps),
    meanPromptTokens: mean((x) => x.meanPromptTokens),
    ttftP50Ms: mean((x) => x.ttftP50Ms),
    ttftP90Ms: mean((x) => x.ttftP90Ms),
    itlMs: mean((x) => x.itlMs),
  };
}

const settingsSlots = 4;

async function runWorkloads(servers: readonly BenchServer[]): Promise<Record<string, ServerResult>> {
  const errors = new Map<string, number>();
  const each = <T>(round: number, label: string, fn: (s: BenchServer) => Promise<T>) => {
    log(label);
    return inTurn(servers, round, errors, fn);
  };
  await each(0, "warm-up", (s) => singleStream(s.base, 4));
  errors.clear();
  const rssIdle = new Map(servers.map((s) => [s.name, rssMiB(s.pid)]));
  const rssLoad = new Map(rssIdle);
  const decode = new Map<string, number[]>();
  const pp = new Map<string, { ppTps: number; promptTokens: number }[]>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, x] of await each(r, `single-stream decode, round ${r + 1}/${ROUNDS}`, (s) =>
      singleStream(s.base, W.decodeTokens),
    )) {
      decode.set(name, [...(decode.get(name) ?? []), x.decodeTps]);
    }
    for (const [name, x] of await each(r, `prompt processing, round ${r + 1}/${ROUNDS}`, (s) =>
      promptProcessing(s.base, W.ppWords),
    )) {
      pp.set(name, [...(pp.get(name) ?? []), x]);
    }
  }
  // Every level runs concRounds times (one concurrent round is a few seconds, within this VM's
  // drift): the figures are means over the rounds, each round's aggregate shown. Four rounds:
  // with two, single rounds swung ±8% (a separate 4-stream A/B over four rounds: 5.3–6.2 tok/s
  // for both servers, means 5.80 vs 5.74).
  const conc = new Map<string, Map<number, ConcurrencyResult[]>>(servers.map((s) => [s.name, new Map()]));
  for (let r = 0; r < W.concRounds; r++) {
    for (const [i, c] of W.concurrency.entries()) {
      const results = await each(i + r, `concurrency ${c}, round ${r + 1}/${W.concRounds}`, async (s) => {
        const sampler = setInterval(() => rssLoad.set(s.name, Math.max(rssLoad.get(s.name) ?? 0, rssMiB(s.pid))), 500);
        try {
          return await concurrent(s.base, c, W.concTokens);
        } finally {
          clearInterval(sampler);
        }
      });
      for (const [name, x] of results) {
        const byLevel = conc.get(name) as Map<number, ConcurrencyResult[]>;
        byLevel.set(c, [...(byLevel.get(c) ?? []), x]);
      }
    }
  }
  const chats = new Map(servers.map((s) => [s.name, new MultiTurnChat(s.base, W.turnWords, W.turnTokens)]));
  const turns = new Map<string, TurnResult[]>();
  for (let t = 0; t < W.turns; t++) {
    for (const [name, x] of await each(t, `multi-turn chat, turn ${t + 1}/${W.turns}`, (s) =>
      (chats.get(s.name) as MultiTurnChat).turn(),
    )) {
      turns.set(name, [...(turns.get(name) ?? []), x]);
    }
  }
  const returning = await each(0, "a chat that returns after its sequence was taken", (s) =>
    returningChat(s.base, W.returnWords, settingsSlots, W.turnTokens),
  );
  const out: Record<string, ServerResult> = {};
  for (const s of servers) {
    const ppRuns = (pp.get(s.name) ?? []).filter((x) => x.ppTps > 0);
    const t = turns.get(s.name) ?? [];
    out[s.name] = {
      decodeTps: percentile(decode.get(s.name) ?? [], 50),
      decodeRuns: decode.get(s.name) ?? [],
      promptTps:
        ppRuns.length > 0
          ? percentile(
              ppRuns.map((x) => x.ppTps),
              50,
            )
          : 0,
      promptTokens: ppRuns[0]?.promptTokens ?? 0,
      promptRuns: (pp.get(s.name) ?? []).map((x) => x.ppTps),
      concurrency: [...(conc.get(s.name) ?? new Map<number, ConcurrencyResult[]>()).values()].map(meanOverRounds),
      returning: returning.get(s.name) ?? null,
      turnTtftMs: t.map((x) => x.ttftMs),
      turnPromptTokens: t.map((x) => x.promptTokens),
      turnReadTokens: t.map((x) => x.readTokens),
      rssIdleMiB: rssIdle.get(s.name) ?? 0,
      rssLoadMiB: rssLoad.get(s.name) ?? 0,
      streamErrors: errors.get(s.name) ?? 0,
    };
  }
  return out;
}

async function main(): Promise<void> {
  ensureLlamaCppTools();
  const model = ensureModel();
  banTokens(await partialUtf8Tokens(model));
  const threads = os.availableParallelism();
  const settings: ServerSettings = { model, threads, slots: settingsSlots, ctxPerSlot: 8192 };
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-bench-"));
  const starters: [string, () => Promise<BenchServer>][] = [
    ["lunaris", () => startLunaris(settings, dataDir)],
    ["llama-server", () => startLlamaServer(settings)],
  ];
  const servers: BenchServer[] = [];
  let results: Record<string, ServerResult> = {};
  try {
    for (const [name, start] of starters) if (!args.only || args.only === name) servers.push(await start());
    results = await runWorkloads(servers);
    writeFileSync(path.join(BENCH_CACHE, "partial-results.json"), JSON.stringify(results, null, 2));
  } finally {
    for (const s of servers) await s.stop();
  }
  log("overhead and RSS over 500 requests on the tiny model");
  const overhead = await measureOverheadAndRss(500);
  const result: BenchResult = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? "cpu"}, ${threads} threads, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    shape,
    quick,
    model: path.basename(model),
    settings: { threads, slots: settings.slots, ctxPerSlot: settings.ctxPerSlot },
    workloads: W,
    lunaris: results.lunaris ?? null,
    llamaServer: results["llama-server"] ?? null,
    overhead,
  };
  const dir = path.resolve("bench/results");
  mkdirSync(dir, { recursive: true });
  const name = `${shape}${quick ? "-quick" : ""}`;
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const md = toMarkdown(result);
  writeFileSync(path.join(dir, `${name}.md`), md);
  if (shape === "lunaris" && !quick) updateReadme(md);
  process.stdout.write(md);
}

function updateReadme(md: string): void {
  const readme = readFileSync("README.md", "utf8");
  const start = "<!-- bench:start -->";
  const end = "<!-- bench:end -->";
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a === -1 || b === -1) return;
  writeFileSync("README.md", `${readme.slice(0, a + start.length)}\n${md}\n${readme.slice(b)}`);
}

await main();
