import type { Logger } from "pino";
import { LUNARIS } from "./catalog.js";
import { prefixCacheDir } from "./config/paths.js";
import type { ServeConfig } from "./config/serveConfig.js";
import { createEngine } from "./engine/createEngine.js";
import type { FleetObserver } from "./engine/remote/FleetEngine.js";
import { DEFAULT_ROUTER } from "./engine/remote/PrefixRouter.js";
import type { Engine } from "./engine/types.js";
import { resolveModelPath } from "./model/resolveModelPath.js";

export interface OpenEngineOptions {
  log: Logger;
  /** Download progress of the model file (the CLI draws a bar). */
  onProgress?: ((done: number, total: number | null) => void) | undefined;
  /** Per-upstream figures of a gateway (its metrics). */
  observer?: FleetObserver | undefined;
}

/**
 * The engine a `serve` configuration asks for: with upstreams, a fleet reached over HTTP (the
 * gateway); otherwise the model, downloaded if needed, in process.
 */
export async function openEngine(cfg: ServeConfig, o: OpenEngineOptions): Promise<Engine> {
  const { log } = o;
  if (cfg.upstreams.length > 0) {
    const engine = await createEngine({
      kind: "fleet",
      id: LUNARIS.id,
      aliases: cfg.alias,
      // Nodes are reached with the cluster secret unless an upstream names its own key.
      upstreams: cfg.upstreams.map((u) => ({
        ...u,
        apiKey: u.apiKey ?? (u.kind === "lunaris" ? cfg.clusterSecret : undefined),
      })),
      router: { ...DEFAULT_ROUTER, policy: cfg.routing },
      healthIntervalMs: cfg.healthIntervalMs,
      log: (m) => log.info(m),
      observer: o.observer,
    });
    log.info(
      `gateway over ${cfg.upstreams.length} upstream(s), ${cfg.routing} routing: ${cfg.upstreams.map((u) => `${u.kind}=${u.url}`).join(", ")}`,
    );
    return engine;
  }
  const resolved = await resolveModelPath(cfg.model, {
    cacheDir: cfg.cacheDir,
    log: (m) => log.info(m),
    onProgress: o.onProgress,
  });
  if (resolved.demo)
    log.warn("serving the DEMO model: random weights, real tokenizer and template; replies are gibberish");
  const engine = await createEngine({
    kind: "llama",
    modelPath: resolved.path,
    id: LUNARIS.id,
    aliases: cfg.alias,
    demo: resolved.demo,
    gpu: cfg.gpu,
    threads: cfg.threads,
    parallel: cfg.parallel,
    contextSize: cfg.ctxSize,
    batchSize: cfg.batchSize,
    flashAttention: cfg.flashAttention === "on",
    maxQueue: cfg.maxQueue,
    queueTimeoutMs: cfg.queueTimeoutMs,
    prefixCache: { dir: prefixCacheDir(cfg.cacheDir), maxBytes: cfg.prefixCacheGib * 2 ** 30 },
    log: (m) => log.info(m),
  });
  log.info(`serving ${LUNARIS.id} from ${resolved.path}`);
  return engine;
}
