import type { Context } from "hono";
import type { UpstreamStatus } from "../../engine/types.js";
import type { ApiDeps, AppEnv } from "../deps.js";

/** An upstream on the wire (snake_case; times as ISO strings). */
function toUpstreamObject(u: UpstreamStatus) {
  return {
    object: "upstream",
    url: u.url,
    kind: u.kind,
    weight: u.weight,
    healthy: u.healthy,
    in_flight: u.inFlight,
    queue_depth: u.queueDepth,
    requests: u.requests,
    errors: u.errors,
    prefix_hits: u.prefixHits,
    last_error: u.lastError,
    ejected_at: u.ejectedAt === null ? null : new Date(u.ejectedAt).toISOString(),
  };
}

/** GET /v1/admin/upstreams: a gateway's engines, their health and load (empty when the model runs in process). */
export function adminUpstreamsHandler(deps: ApiDeps) {
  return (c: Context<AppEnv>) => {
    const upstreams = deps.isReady() ? (deps.engine().upstreams?.() ?? []) : [];
    return c.json({ object: "list", data: upstreams.map(toUpstreamObject) });
  };
}
