/**
 * `npm run bench [-- --shape lunaris|small] [--quick]`
 *
 * Runs the same HTTP workloads against Lunaris Server and llama.cpp's own llama-server (built
 * from the llama.cpp commit node-llama-cpp ships), with the same model file, threads and slots,
 * one server at a time. Then measures our per-request overhead and RSS over 500 requests on the
 * tiny model. Writes bench/results/<shape>.json and .md, and the README's table.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { BENCH_CACHE, ensureLlamaCppTools, toolPath } from "./llamaCppBuild.js";
import { measureOverheadAndRss } from "./overhead.js";
import { type BenchResult, type ServerResult, toMarkdown } from "./report.js";
import { type BenchServer, type ServerSettings, rssMiB, startLlamaServer, startLunaris } from "./servers.js";
import { concurrent, multiTurn, promptProcessing, singleStream, takeStreamErrors } from "./workloads.js";
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
  ? { decodeTokens: 16, ppWords: 200, concurrency: [1, 2, 4], concTokens: 12, turns: 3, turnWords: 100, turnTokens: 8 }
  : { decodeTokens: 48, ppWords: 400, concurrency: [1, 2, 4, 8], concTokens: 24, turns: 8, turnWords: 300, turnTokens: 16 };

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
  execFileSync(toolPath("llama-quantize"), [f16, `${out}.tmp`, "Q4_K_M", String(os.availableParallelism())], { stdio: "ignore" });
  renameSync(`${out}.tmp`, out);
  rmSync(f16);
  return out;
}

async function runWorkloads(server: BenchServer): Promise<ServerResult> {
  log(`${server.name}: warm-up`);
  await singleStream(server.base, 4);
  takeStreamErrors();
  const rssIdle = rssMiB(server.pid);
  log(`${server.name}: single-stream decode`);
  const single = await singleStream(server.base, W.decodeTokens);
  log(`${server.name}: prompt processing`);
  const pp = await promptProcessing(server.base, W.ppWords);
  const conc = [];
  let rssLoad = rssIdle;
  for (const c of W.concurrency) {
    log(`${server.name}: concurrency ${c}`);
    const sampler = setInterval(() => {
      rssLoad = Math.max(rssLoad, rssMiB(server.pid));
    }, 500);
    conc.push(await concurrent(server.base, c, W.concTokens));
    clearInterval(sampler);
  }
  log(`${server.name}: multi-turn chat (${W.turns} turns)`);
  const turns = await multiTurn(server.base, W.turns, W.turnWords, W.turnTokens);
  return {
    decodeTps: single.decodeTps,
    promptTps: pp.ppTps,
    promptTokens: pp.promptTokens,
    concurrency: conc,
    turnTtftMs: turns.map((t) => t.ttftMs),
    turnPromptTokens: turns.map((t) => t.promptTokens),
    turnReadTokens: turns.map((t) => t.readTokens),
    rssIdleMiB: rssIdle,
    rssLoadMiB: rssLoad,
    streamErrors: takeStreamErrors(),
  };
}

async function main(): Promise<void> {
  ensureLlamaCppTools();
  const model = ensureModel();
  const threads = os.availableParallelism();
  const settings: ServerSettings = { model, threads, slots: 4, ctxPerSlot: 8192 };
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-bench-"));
  const results: Record<string, ServerResult> = {};
  const servers: [string, () => Promise<BenchServer>][] = [
    ["lunaris", () => startLunaris(settings, dataDir)],
    ["llama-server", () => startLlamaServer(settings)],
  ];
  for (const [name, start] of servers) {
    if (args.only && args.only !== name) continue;
    const server = await start();
    try {
      results[server.name] = await runWorkloads(server);
      writeFileSync(path.join(BENCH_CACHE, `partial-${server.name}.json`), JSON.stringify(results[server.name], null, 2));
    } finally {
      await server.stop();
    }
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
