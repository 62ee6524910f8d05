/**
 * The GPU benchmark's measuring half, run by bench/gpu/gpu.sh on the device (or, with
 * `--gpu off`, rehearsed on a CPU machine): Lunaris Server on the GPU over HTTP at 1, 16 and 64
 * concurrent streams (256-token prompts, 128 new tokens), next to llama.cpp's
 * llama-batched-bench from the same build on the same GPU. Writes gpu.json and gpu.md to --out.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { rssMiB, startLunaris } from "../servers.js";
import { type ConcurrencyResult, concurrent, singleStream } from "../workloads.js";

const { values: a } = parseArgs({
  options: {
    model: { type: "string" },
    gpu: { type: "string", default: "cuda" },
    "batched-bench": { type: "string" },
    out: { type: "string", default: "." },
    streams: { type: "string", default: "1,16,64" },
    prompt: { type: "string", default: "256" },
    tokens: { type: "string", default: "128" },
  },
});
if (!a.model) throw new Error("--model is required");
const model = a.model;
const gpu = a.gpu === "off" ? "off" : "cuda";
const streams = (a.streams ?? "1,16,64").split(",").map(Number);
const promptTokens = Number(a.prompt);
const newTokens = Number(a.tokens);
const maxStreams = Math.max(...streams);
// The server needs at least 256 tokens per sequence.
const ctxPerSlot = Math.max(256, promptTokens + newTokens + 64);
const out = path.resolve(a.out ?? ".");
mkdirSync(out, { recursive: true });

function log(m: string): void {
  process.stderr.write(`[gpu-bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
}

/** llama-batched-bench's rows: pl streams, pp prompt tokens each, tg generated each. */
interface BatchedRow {
  pl: number;
  speed_pp: number;
  speed_tg: number;
  t_pp: number;
  t_tg: number;
}

function batchedBench(bin: string): BatchedRow[] {
  const args = [
    "-m",
    model,
    "-c",
    String(maxStreams * ctxPerSlot),
    "-b",
    "2048",
    "-ub",
    "512",
    "-npp",
    String(promptTokens),
    "-ntg",
    String(newTokens),
    "-npl",
    streams.join(","),
    "-ngl",
    gpu === "off" ? "0" : "99",
    "-fa",
    "on",
    "--output-format",
    "jsonl",
    ...(gpu === "off" ? ["-t", String(os.availableParallelism())] : []),
  ];
  log(`llama-batched-bench ${args.join(" ")}`);
  const text = execFileSync(bin, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 2 ** 20,
  });
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as BatchedRow);
}

async function ours(): Promise<{ single: number; conc: ConcurrencyResult[]; rssMiB: number }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-gpu-"));
  const server = await startLunaris(
    { model, threads: os.availableParallelism(), slots: maxStreams, ctxPerSlot, gpu, batchSize: 2048 },
    dataDir,
  );
  try {
    log("lunaris: warm-up");
    await singleStream(server.base, 8);
    await concurrent(server.base, Math.min(maxStreams, 8), 4, Math.round(promptTokens * 0.9));
    log("lunaris: single stream");
    const single = await singleStream(server.base, newTokens);
    const conc: ConcurrencyResult[] = [];
    for (const c of streams) {
      log(`lunaris: ${c} concurrent streams`);
      // Prompts of ~promptTokens tokens: one word is about one token, plus the template.
      conc.push(await concurrent(server.base, c, newTokens, promptTokens - 16));
    }
    return { single: single.decodeTps, conc, rssMiB: rssMiB(server.pid) };
  } finally {
    await server.stop();
  }
}

function gpuName(): string {
  try {
    return execFileSync("nvidia-smi", ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"], {
      encoding: "utf8",
    }).trim();
  } catch {
    return "no GPU (CPU rehearsal)";
  }
}

const lunaris = await ours();
const batched = a["batched-bench"] ? batchedBench(a["batched-bench"]) : [];
const rows = streams.map((c) => {
  const o = lunaris.conc.find((r) => r.concurrency === c);
  const b = batched.find((r) => r.pl === c);
  return {
    streams: c,
    oursDecodeTps: o?.decodeTps ?? null,
    oursAggregateTps: o?.aggregateTps ?? null,
    oursTtftP50Ms: o?.ttftP50Ms ?? null,
    oursTtftP90Ms: o?.ttftP90Ms ?? null,
    meanPromptTokens: o?.meanPromptTokens ?? null,
    batchedDecodeTps: b?.speed_tg ?? null,
    batchedPromptTps: b?.speed_pp ?? null,
    ratio: o && b ? o.decodeTps / b.speed_tg : null,
  };
});
const result = {
  date: new Date().toISOString(),
  device: gpuName(),
  model: path.basename(model),
  gpu,
  promptTokens,
  newTokens,
  singleStreamTps: lunaris.single,
  rssMiB: lunaris.rssMiB,
  rows,
};
writeFileSync(path.join(out, "gpu.json"), `${JSON.stringify(result, null, 2)}\n`);
const f = (v: number | null, d = 1) => (v === null ? "–" : v.toFixed(d));
const md = [
  `GPU benchmark ${result.date.slice(0, 10)}: ${result.device}; ${result.model}; ${promptTokens}-token prompts, ${newTokens} new tokens per stream.`,
  "",
  "| streams | Lunaris decode (tok/s) | llama-batched-bench S_TG (tok/s) | ours / theirs | Lunaris TTFT p50 / p90 (ms) | aggregate incl. prefill (tok/s) |",
  "|---|---|---|---|---|---|",
  ...rows.map(
    (r) =>
      `| ${r.streams} | ${f(r.oursDecodeTps)} | ${f(r.batchedDecodeTps)} | ${f(r.ratio, 2)}× | ${f(r.oursTtftP50Ms, 0)} / ${f(r.oursTtftP90Ms, 0)} | ${f(r.oursAggregateTps)} |`,
  ),
  "",
  `Single-stream decode through the HTTP API: ${lunaris.single.toFixed(1)} tok/s. Server RSS after the run: ${lunaris.rssMiB} MiB.`,
  "",
].join("\n");
writeFileSync(path.join(out, "gpu.md"), md);
process.stdout.write(md);
