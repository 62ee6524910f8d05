import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { Accounting } from "../../src/accounting/Accounting.js";
import { KeyRing } from "../../src/accounting/KeyRing.js";
import { openStore } from "../../src/accounting/store/openStore.js";
import { createApp } from "../../src/api/app.js";
import type { ApiDeps } from "../../src/api/deps.js";
import { modelNotFound } from "../../src/api/errors.js";
import { toModelObject } from "../../src/api/translate/toModelObject.js";
import { LUNARIS } from "../../src/catalog.js";
import type { Engine, EngineStats, GenerationEvent, GenerationRequest } from "../../src/engine/types.js";
import { Metrics } from "../../src/observability/metrics.js";

export type Script = (request: GenerationRequest) => AsyncIterable<GenerationEvent>;

/** Events of a plain reply: start, the texts (a token each), end. */
export async function* reply(
  texts: readonly string[],
  o: { prompt?: number; cached?: number; reason?: "maxTokens" | "endOfGeneration" } = {},
): AsyncGenerator<GenerationEvent> {
  yield { type: "start", promptTokens: o.prompt ?? 7, cachedTokens: o.cached ?? 0 };
  for (const [i, text] of texts.entries()) yield { type: "text", choice: 0, text, tokens: i + 1 };
  yield { type: "end", choice: 0, reason: o.reason ?? "endOfGeneration", completionTokens: texts.length };
}

/** An Engine that plays a script per request and remembers what it was asked: for HTTP tests that need no model. */
export class ScriptedEngine implements Engine {
  readonly requests: GenerationRequest[] = [];
  readonly model = {
    id: LUNARIS.id,
    aliases: [],
    contextLength: 2048,
    file: "scripted",
    quantization: "none",
    demo: false,
  };

  constructor(public script: Script = () => reply(["Hello", " there"])) {}

  generate(request: GenerationRequest): AsyncIterable<GenerationEvent> {
    this.requests.push(request);
    return this.script(request);
  }

  async tokenize(text: string): Promise<number[]> {
    return [...text].map((ch) => ch.charCodeAt(0));
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    return String.fromCharCode(...tokens);
  }

  stats(): EngineStats {
    return { queueDepth: 0, activeSequences: 0, totalSequences: 4, storedPrefixes: 0, storedPrefixBytes: 0 };
  }

  async close(): Promise<void> {}
}

/** The HTTP app in process (`app.request`), over a scripted engine and a fresh SQLite ledger. */
export async function scriptedApp(
  o: {
    apiKeys?: string[];
    adminKeys?: string[];
    requestTimeoutMs?: number;
    sseKeepAliveMs?: number;
    now?: () => number;
  } = {},
) {
  const engine = new ScriptedEngine();
  const store = await openStore(undefined, mkdtempSync(path.join(os.tmpdir(), "lunaris-api-")));
  const accounting = new Accounting(store, {
    envKeys: new KeyRing(o.apiKeys ?? []),
    adminKeys: new KeyRing(o.adminKeys ?? [], "admin"),
    now: o.now,
  });
  await accounting.start(true);
  const served = [LUNARIS.id];
  const deps: ApiDeps = {
    engine: () => engine,
    isReady: () => true,
    resolveModel: (id) => {
      if (served.includes(id)) return LUNARIS.id;
      throw modelNotFound(id, served);
    },
    models: () => served.map((id) => toModelObject(id, engine.model)),
    prices: LUNARIS.prices,
    log: pino({ level: "silent" }),
    requestTimeoutMs: o.requestTimeoutMs ?? 60_000,
    sseKeepAliveMs: o.sseKeepAliveMs ?? 15_000,
    accounting,
    corsOrigins: ["*"],
    samplingDefaults: {},
    metrics: new Metrics(() => engine.stats()),
    logPrompts: false,
  };
  const app = createApp(deps);
  const key = o.apiKeys?.[0];
  const post = (p: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(p, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { app, engine, accounting, post, close: () => accounting.close() };
}
