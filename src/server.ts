import type { Server } from "node:http";
import pino, { type Logger } from "pino";
import { createApp } from "./api/app.js";
import { handleClientErrors } from "./api/clientErrors.js";
import type { ApiDeps } from "./api/deps.js";
import { loading, modelNotFound } from "./api/errors.js";
import { toModelObject } from "./api/translate/toModelObject.js";
import { Accounting } from "./accounting/Accounting.js";
import { KeyRing } from "./accounting/KeyRing.js";
import { costPicoUsd } from "./accounting/pricing.js";
import { openStore } from "./accounting/store/openStore.js";
import { DEMO_ID, LUNARIS } from "./catalog.js";
import { isLoopback, type ServeConfig } from "./config/serveConfig.js";
import type { Engine } from "./engine/types.js";
import { Metrics } from "./observability/metrics.js";
import { listen, stopServing } from "./listen.js";
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

/** Config → dependencies → HTTP server; the model loads in the background (/health says 503 until then). */
export interface StartOptions {
  /** Download progress of the model file (the CLI draws a bar). */
  onProgress?: ((done: number, total: number | null) => void) | undefined;
  /** The clock of rate windows and ledger times (tests move it instead of waiting out a window). */
  now?: (() => number) | undefined;
}

/** The ledger and keys: refuses to serve a network address without keys; decides open mode once. */
async function openAccounting(cfg: ServeConfig, log: Logger, now: (() => number) | undefined): Promise<Accounting> {
  const store = await openStore(cfg.database, cfg.dataDir);
  const accounting = new Accounting(store, {
    envKeys: new KeyRing(cfg.apiKeys, "env"),
    adminKeys: new KeyRing(cfg.adminKeys, "admin"),
    leaseMs: cfg.requestTimeoutMs,
    windowMs: cfg.rateWindowMs,
    now,
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
  return accounting;
}

/** Config → dependencies → HTTP server; the engine opens in the background (/health says 503 until then). */
export async function startServer(
  cfg: ServeConfig,
  log: Logger = pino({ level: cfg.logLevel }),
  options: StartOptions = {},
): Promise<RunningServer> {
  const accounting = await openAccounting(cfg, log, options.now);
  let engine: Engine | null = null;
  const servedIds = (): string[] => [LUNARIS.id, ...cfg.alias, ...(engine?.model.demo ? [DEMO_ID] : [])];
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
    models: () => servedIds().map((id) => toModelObject(id, engine?.model ?? null)),
    prices: LUNARIS.prices,
    log,
    requestTimeoutMs: cfg.requestTimeoutMs,
    sseKeepAliveMs: cfg.sseKeepAliveMs,
    accounting,
    corsOrigins: cfg.corsOrigins,
    samplingDefaults: cfg.samplingDefaults,
    metrics,
    logPrompts: cfg.logPrompts,
  };
  const { server, url } = await listen(createApp(deps).fetch, cfg.host, cfg.port);
  handleClientErrors(server, log, metrics);
  log.info(`listening on ${url} (OpenAI base URL: ${url}/v1/openai or ${url}/v1)`);

  const ready = (async () => {
    const loadStarted = Date.now();
    engine = await openEngine(cfg, {
      log,
      onProgress: options.onProgress,
      observer: cfg.upstreams.length > 0 ? metrics.fleetObserver() : undefined,
    });
    metrics.modelLoaded((Date.now() - loadStarted) / 1000);
  })();

  return {
    url,
    server,
    log,
    ready,
    engine: () => engine,
    async close() {
      await stopServing(server, ready, () => engine);
      await accounting.close();
    },
  };
}
