import { mkdtempSync } from "node:fs";
import { Agent, request } from "node:http";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { parseServeConfig } from "../src/config/serveConfig.js";
import type { GenerationRequest } from "../src/engine/types.js";
import { startServer } from "../src/server.js";
import { tinyModelPath } from "../test/helpers/testModel.js";
import { rssMiB, startLunaris } from "./servers.js";
import { MODEL_ID, percentile } from "./workloads.js";

const mean = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);

export interface OverheadResult {
  requests: number;
  engineMeanMs: number;
  httpMeanMs: number;
  engineMedianMs: number;
  httpMedianMs: number;
  /** Median HTTP latency minus median engine latency. */
  overheadMs: number;
  rssAfterWarmupMiB: number;
  rssAfter500MiB: number;
  rssChangePct: number;
}

const messages = [{ role: "user" as const, content: "Hello!" }];

/**
 * Server overhead = median latency of a 1-token completion over HTTP (auth, validation, ledger,
 * scheduling, JSON) minus the median of the same generation called on the engine directly, on the tiny
 * model in one process. The client is node:http with a keep-alive agent, the lightest real
 * HTTP client: it shares the process (and the 2 cores), so a heavier one (fetch/undici costs
 * ~1 ms a request here) would be counted as server overhead. RSS: a separate server process, measured after a warm-up and after
 * `n` more requests.
 */
export async function measureOverheadAndRss(n: number): Promise<OverheadResult> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-overhead-"));
  const cfg = parseServeConfig({ model: tinyModelPath(), port: 0, cacheDir: ".cache/test", dataDir, ctxSize: 1024, gpu: "off", parallel: 1 });
  const running = await startServer(cfg, pino({ level: "silent" }));
  await running.ready;
  const engine = running.engine();
  if (!engine) throw new Error("engine not loaded");
  const req: GenerationRequest = {
    model: MODEL_ID,
    prompt: { type: "chat", messages },
    maxTokens: 1,
    stopSequences: [],
    choices: 1,
    sampling: { temperature: 1, topP: 1, topK: 0, minP: 0, seed: 1, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 },
  };
  const url = new URL(`${running.url}/v1/chat/completions`);
  const agent = new Agent({ keepAlive: true });
  const body = JSON.stringify({ model: MODEL_ID, messages, max_tokens: 1, seed: 1 });
  const http = () =>
    new Promise<unknown>((resolve, reject) => {
      const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      });
      req.on("error", reject);
      req.end(body);
    });
  const direct = async () => {
    for await (const _ of engine.generate(req)) {
      // consume
    }
  };
  // One engine call and one HTTP call in turn, each timed alone: drift and noisy neighbours on a
  // shared VM hit both sides alike, and medians keep a stray GC pause or preemption from
  // deciding the figure (means are reported too).
  for (let i = 0; i < 20; i++) {
    await direct();
    await http();
  }
  const engineMs: number[] = [];
  const httpMs: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    await direct();
    engineMs.push(performance.now() - t);
    t = performance.now();
    await http();
    httpMs.push(performance.now() - t);
  }
  agent.destroy();
  await running.close();

  const server = await startLunaris({ model: tinyModelPath(), threads: os.availableParallelism(), slots: 4, ctxPerSlot: 1024 }, dataDir);
  try {
    const ask = () =>
      fetch(`${server.base}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: `Hi ${Math.random()}` }], max_tokens: 4, stream: Math.random() < 0.5 }),
      }).then((r) => r.text());
    for (let i = 0; i < 50; i++) await ask();
    const before = rssMiB(server.pid);
    for (let i = 0; i < n; i += 4) await Promise.all([ask(), ask(), ask(), ask()]);
    const afterRss = rssMiB(server.pid);
    return {
      requests: n,
      engineMeanMs: mean(engineMs),
      httpMeanMs: mean(httpMs),
      engineMedianMs: percentile(engineMs, 50),
      httpMedianMs: percentile(httpMs, 50),
      overheadMs: percentile(httpMs, 50) - percentile(engineMs, 50),
      rssAfterWarmupMiB: before,
      rssAfter500MiB: afterRss,
      rssChangePct: ((afterRss - before) / before) * 100,
    };
  } finally {
    await server.stop();
  }
}
