import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import pino, { type Logger } from "pino";
import { createApp } from "./api/app.js";
import { handleClientErrors } from "./api/clientErrors.js";
import type { ApiDeps, UsageEvent } from "./api/deps.js";
import { loading, modelNotFound } from "./api/errors.js";
import type { ModelObject } from "./api/protocol/chatCompletionResponse.js";
import { Accounting } from "./accounting/Accounting.js";
import { KeyRing } from "./accounting/KeyRing.js";
import { costPicoUsd } from "./accounting/pricing.js";
import { openStore } from "./accounting/store/openStore.js";
import { DEMO_ID, LUNARIS } from "./catalog.js";
import { isLoopback, type ServeConfig } from "./config/serveConfig.js";
import type { Engine } from "./engine/types.js";
import { Metrics } from "./observability/metrics.js";
import { openEngine } from "./openEngine.js";

export interface RunningServer {
  url: string;
  server: Server;
  /** Resolves once the model is loaded and serving. */
  ready: Promise<void>;
  log: Logger;
  /** The loaded engine (null while loading): benchmarks compare it with the HTTP path. */
  engine(): Engine | null;
  close(): Promise<void>;
}

function toModelObject(engine: Engine | null, id: string): ModelObject {
  const d = engine?.model;
  return {
    id,
    object: "model",
    created: 1718841600, // the model's release (2024-06-20)
    owned_by: LUNARIS.ownedBy,
    context_length: d?.contextLength ?? LUNARIS.contextLength,
    max_tokens: d?.contextLength ?? LUNARIS.contextLength,
    pricing: {
      input_tokens: LUNARIS.prices.inputMicrosPerMillion / 1e6,
      output_tokens: LUNARIS.prices.outputMicrosPerMillion / 1e6,
      unit: "USD per 1M tokens",
    },
    metadata: {
      description: LUNARIS.description,
      precision: LUNARIS.precision,
      quantization: d?.quantization ?? null,
      file: d?.file ?? null,
      recommended_settings: LUNARIS.recommended,
      ...(d?.demo ? { demo: true, note: "demo model with random weights: replies are gibberish" } : {}),
    },
  };
}

/** Config → dependencies → HTTP server; the model loads in the background (/health says 503 until then). */
export interface StartOptions {
  /** Download progress of the model file (the CLI draws a bar). */
  onProgress?: ((done: number, total: number | null) => void) | undefined;
}

export async function startServer(cfg: ServeConfig, log: Logger = pino({ level: cfg.logLevel }), options: StartOptions = {}): Promise<RunningServer> {
  const store = await openStore(cfg.database, cfg.dataDir);
  const accounting = new Accounting(store, {
    envKeys: new KeyRing(cfg.apiKeys, "env"),
    adminKeys: new KeyRing(cfg.adminKeys, "admin"),
    leaseMs: cfg.requestTimeoutMs,
    windowMs: cfg.rateWindowMs,
    // A request costs at most a full context of output tokens.
    holdPico: costPicoUsd(0, cfg.ctxSize ?? LUNARIS.contextLength, LUNARIS.prices),
  });
  // Open mode (no key anywhere) is decided here, once; it is never entered at run time.
  const loopback = isLoopback(cfg.host);
  if (!loopback && !cfg.insecureNoAuth && !(await accounting.hasAnyKey())) {
    await accounting.close();
    throw new Error(
      `Refusing to serve on ${cfg.host} without API keys. Create one (lunaris keys create), set LUNARIS_API_KEYS, ` +
        "or pass --insecure-no-auth if this network is trusted.",
    );
  }
  if (await accounting.start(loopback || cfg.insecureNoAuth)) {
    log.warn(
      loopback
        ? "NO API KEYS CONFIGURED: anyone who can reach this loopback port can use the API until the first key is created. Set LUNARIS_API_KEYS or create keys to require them."
        : `NO API KEYS CONFIGURED and --insecure-no-auth given: the API on ${cfg.host} is open to the network until the first key is created.`,
    );
  }
  log.info(`usage ledger: ${store.kind}`);
  let engine: Engine | null = null;
  const servedIds = (): string[] => {
    const ids = [LUNARIS.id, ...cfg.alias];
    if (engine?.model.demo) ids.push(DEMO_ID);
    return ids;
  };
  const metrics = new Metrics(
    () => engine?.stats() ?? null,
    () => engine?.upstreams?.() ?? null,
  );
  const deps: ApiDeps = {
    engine: () => {
      if (!engine) throw loading();
      return engine;
    },
    isReady: () => engine !== null,
    resolveModel: (requested) => {
      if (servedIds().includes(requested)) return LUNARIS.id;
      throw modelNotFound(requested, servedIds());
    },
    models: () => servedIds().map((id) => toModelObject(engine, id)),
    prices: LUNARIS.prices,
    log,
    requestTimeoutMs: cfg.requestTimeoutMs,
    sseKeepAliveMs: cfg.sseKeepAliveMs,
    accounting,
    corsOrigins: cfg.corsOrigins,
    samplingDefaults: cfg.samplingDefaults,
    metrics,
    logPrompts: cfg.logPrompts,
    recordUsage: async (e: UsageEvent) => {
      const o = e.outcome;
      const now = Date.now();
      await accounting.record({
        requestId: e.requestId,
        keyId: e.principal?.keyId ?? null,
        user: e.user,
        model: LUNARIS.id,
        promptTokens: o.promptTokens,
        cachedTokens: o.cachedTokens,
        completionTokens: o.completionTokens,
        costPico: costPicoUsd(o.promptTokens, o.completionTokens, LUNARIS.prices),
        finishReason: o.finishReason,
        status: e.status,
        latencyMs: now - e.startedAt,
        createdAt: now,
      });
    },
  };
  const app = createApp(deps);
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: cfg.host, port: cfg.port }, () => resolve(s as Server));
  });
  handleClientErrors(server, log, metrics);
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  log.info(`listening on ${url} (OpenAI base URL: ${url}/v1/openai or ${url}/v1)`);

  const ready = (async () => {
    const loadStarted = Date.now();
    engine = await openEngine(cfg, { log, onProgress: options.onProgress, observer: cfg.upstreams.length > 0 ? metrics.fleetObserver() : undefined });
    metrics.modelLoaded((Date.now() - loadStarted) / 1000);
  })();

  return {
    url,
    server,
    log,
    ready,
    engine: () => engine,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ready.catch(() => undefined);
      await engine?.close();
      await accounting.close();
    },
  };
}
