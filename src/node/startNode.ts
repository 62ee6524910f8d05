import pino, { type Logger } from "pino";
import { isLoopback, type ServeConfig } from "../config/serveConfig.js";
import type { Engine } from "../engine/types.js";
import { listen, stopServing } from "../listen.js";
import type { RunningServer } from "../server.js";
import { openEngine } from "../openEngine.js";
import { createNodeApp } from "./nodeApp.js";

/** A running node: the same handle as the API server's. */
export type RunningNode = RunningServer;

/**
 * `lunaris serve --role engine`: the model in process, served over the engine protocol to
 * gateways (src/engine/remote/nodeProtocol.ts). No user keys and no ledger here: off loopback a
 * cluster secret is required, so only the fleet's gateways can use it.
 */
export async function startNode(
  cfg: ServeConfig,
  log: Logger = pino({ level: cfg.logLevel }),
  onProgress?: (done: number, total: number | null) => void,
): Promise<RunningNode> {
  if (!isLoopback(cfg.host) && !cfg.clusterSecret) {
    throw new Error(
      `Refusing to serve an engine node on ${cfg.host} without a cluster secret: set --cluster-secret or LUNARIS_CLUSTER_SECRET (the gateways send the same).`,
    );
  }
  if (cfg.upstreams.length > 0)
    throw new Error("An engine node runs its model in process: --upstream is for gateways (--role api).");
  let engine: Engine | null = null;
  const app = createNodeApp({
    engine: () => engine,
    secret: cfg.clusterSecret ?? null,
    requestTimeoutMs: cfg.requestTimeoutMs,
    log,
  });
  const { server, url } = await listen(app.fetch, cfg.host, cfg.port);
  server.keepAliveTimeout = 65_000; // longer than a gateway's idle connections
  log.info(
    `engine node listening on ${url}${cfg.clusterSecret ? " (cluster secret required)" : " (loopback, no secret)"}`,
  );
  const ready = (async () => {
    engine = await openEngine(cfg, { log, onProgress });
  })();
  return {
    url,
    server,
    ready,
    log,
    engine: () => engine,
    close: () => stopServing(server, ready, () => engine),
  };
}
