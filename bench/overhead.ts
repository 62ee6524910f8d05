import type { LlamaEngine } from "../src/engine/llama/LlamaEngine.js";
import { mkdtempSync } from "node:fs";
import { Agent, type IncomingMessage, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { ChatMessage, Engine, GenerationEvent, GenerationRequest } from "../src/engine/types.js";
import { tinyModelPath } from "../src/model/tinyModel.js";
import { rssMiB, startInProcess, startLunaris } from "./servers.js";
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
  /** The same for a bare node:http handler around the same engine (`startFloor`): what any Node.js server costs here. Absent in results from before 2026-11-27. */
  floorOverheadMs?: number;
  rssAfterWarmupMiB: number;
  rssAfter500MiB: number;
  rssChangePct: number;
}

const messages = [{ role: "user" as const, content: "Hello!" }];

/** The one-token generation both ways measure, as the engine takes it. */
export const oneTokenRequest: GenerationRequest = {
  model: MODEL_ID,
  prompt: { type: "chat", messages },
  maxTokens: 1,
  stopSequences: [],
  choices: 1,
  sampling: {
    temperature: 1,
    topP: 1,
    topK: 0,
    minP: 0,
    seed: 1,
    presencePenalty: 0,
    frequencyPenalty: 0,
    repetitionPenalty: 1,
  },
};

/**
 * A one-token chat completion over HTTP to `url`, read whole. The client is node:http with a
 * keep-alive agent, the lightest real HTTP client: it shares the process (and the 2 cores), so
 * a heavier one (fetch/undici costs ~1 ms a request here) would be counted as server overhead.
 */
export function oneTokenClient(url: string): { call(): Promise<unknown>; close(): void } {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true });
  const body = JSON.stringify({ model: MODEL_ID, messages, max_tokens: 1, seed: 1 });
  const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
  const call = () =>
    new Promise<unknown>((resolve, reject) => {
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  return { call, close: () => agent.destroy() };
}

/**
 * Takes the decode out of `engine` (this instance only): `generate` still renders and tokenizes
 * the prompt, then yields one token's events at once. For `bench:overhead --no-decode`, which
 * times the server's own work with nothing between requests that evicts its code and data from
 * the caches or competes for the cores. Never for a figure reported as the overhead.
 */
export function withoutDecode(engine: LlamaEngine): void {
  const generate = async function* (r: GenerationRequest): AsyncGenerator<GenerationEvent> {
    const prompt = r.prompt.type === "chat" ? engine.renderPrompt(r.prompt.messages) : [];
    yield { type: "start", promptTokens: prompt.length, cachedTokens: 0 };
    yield { type: "text", choice: 0, text: "x" };
    yield { type: "end", choice: 0, reason: "maxTokens", completionTokens: 1 };
  };
  Object.defineProperty(engine, "generate", { value: generate });
}

/** Runs the generation on the engine directly, to the end. */
export async function directCall(engine: Engine): Promise<void> {
  for await (const _ of engine.generate(oneTokenRequest)) {
    // consume
  }
}

async function readMessages(req: IncomingMessage): Promise<ChatMessage[]> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { messages: ChatMessage[] }).messages;
}

/** A floor's whole work: generate for the request's messages, answer with a minimal JSON body. */
async function minimalReply(engine: Engine, req: IncomingMessage): Promise<string> {
  const messages = await readMessages(req);
  let text = "";
  for await (const e of engine.generate({ ...oneTokenRequest, prompt: { type: "chat", messages } }))
    if (e.type === "text") text += e.text;
  return JSON.stringify({
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "length" }],
  });
}

/**
 * A floor for the server overhead: an HTTP server in this process around the same engine that
 * does none of the server's work (keys, limits, validation, the ledger, metrics, the OpenAI
 * shape), only parses the body, generates and writes a minimal JSON reply. `node:http` bare,
 * or as one Hono route on @hono/node-server (our stack), reading the body from Node's stream as
 * our routes do. Returns its URL.
 */
export async function startFloor(engine: Engine, kind: "node:http" | "hono"): Promise<{ url: string; close(): void }> {
  if (kind === "node:http") {
    const bare = createServer((req, res) => {
      void minimalReply(engine, req).then((out) =>
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) }).end(out),
      );
    });
    await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`, close: () => bare.close() };
  }
  const app = new Hono<{ Bindings: { incoming: IncomingMessage } }>();
  app.post("/", async (c) =>
    c.body(await minimalReply(engine, c.env.incoming), 200, { "content-type": "application/json" }),
  );
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}

/**
 * Times each of `ways` `n` times, in turn within every round (after 20 warm-up rounds):
 * drift and noisy neighbours on a shared VM hit every way alike, and medians keep a stray GC
 * pause or preemption from deciding the figure (means are reported too).
 */
export async function interleaved(n: number, ways: readonly (() => Promise<unknown>)[]): Promise<number[][]> {
  const times = ways.map(() => [] as number[]);
  for (let i = 0; i < n + 20; i++) {
    for (const [k, way] of ways.entries()) {
      const t = performance.now();
      await way();
      if (i >= 20) times[k]?.push(performance.now() - t);
    }
  }
  return times;
}

/**
 * Server overhead = median latency of a 1-token completion over HTTP (auth, validation, ledger,
 * scheduling, JSON) minus the median of the same generation called on the engine directly, on
 * the tiny model in one process (`oneTokenClient`); beside it, the same for the bare node:http
 * floor. RSS: a separate server process, measured after a warm-up and after `n` more requests.
 */
export async function measureOverheadAndRss(n: number): Promise<OverheadResult> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-overhead-"));
  const running = await startInProcess(dataDir, { model: tinyModelPath(), ctxSize: 1024, parallel: 1 });
  const floor = await startFloor(running.engine, "node:http");
  const client = oneTokenClient(`${running.url}/v1/chat/completions`);
  const floorClient = oneTokenClient(floor.url);
  let times: number[][];
  try {
    times = await interleaved(n, [() => directCall(running.engine), client.call, floorClient.call]);
  } finally {
    client.close();
    floorClient.close();
    floor.close();
    await running.close();
  }
  const [engineMs = [], httpMs = [], floorMs = []] = times;

  const server = await startLunaris(
    { model: tinyModelPath(), threads: os.availableParallelism(), slots: 4, ctxPerSlot: 1024 },
    dataDir,
  );
  try {
    const ask = () =>
      fetch(`${server.base}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: MODEL_ID,
          messages: [{ role: "user", content: `Hi ${Math.random()}` }],
          max_tokens: 4,
          stream: Math.random() < 0.5,
        }),
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
      floorOverheadMs: percentile(floorMs, 50) - percentile(engineMs, 50),
      rssAfterWarmupMiB: before,
      rssAfter500MiB: afterRss,
      rssChangePct: ((afterRss - before) / before) * 100,
    };
  } finally {
    await server.stop();
  }
}
