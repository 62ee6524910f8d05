import type { Context } from "hono";
import type { ApiDeps } from "../deps.js";

/** 200 once the model serves, 503 while it loads (load balancers hold traffic until then). */
export function healthHandler(deps: ApiDeps) {
  return (c: Context) => {
    if (!deps.isReady()) return c.json({ status: "loading" }, 503);
    const s = deps.engine().stats();
    return c.json({ status: "ok", queue_depth: s.queueDepth, active_sequences: s.activeSequences, sequences: s.totalSequences });
  };
}
