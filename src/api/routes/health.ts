import type { Context } from "hono";
import type { ApiDeps } from "../deps.js";

/**
 * 200 once the model serves, 503 while it loads (load balancers hold traffic until then). A
 * gateway is healthy while at least one of its upstreams is.
 */
export function healthHandler(deps: ApiDeps) {
  return (c: Context) => {
    if (!deps.isReady()) return c.json({ status: "loading" }, 503);
    const engine = deps.engine();
    const s = engine.stats();
    const upstreams = engine.upstreams?.();
    const healthy = upstreams?.filter((u) => u.healthy).length;
    const body = {
      status: healthy === 0 ? "no_upstream" : "ok",
      queue_depth: s.queueDepth,
      active_sequences: s.activeSequences,
      sequences: s.totalSequences,
      ...(upstreams ? { upstreams: upstreams.length, healthy_upstreams: healthy } : {}),
    };
    return c.json(body, healthy === 0 ? 503 : 200);
  };
}
