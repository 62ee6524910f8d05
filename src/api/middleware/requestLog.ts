import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { nodeResponse, requestHeader, setHeader } from "../nodeHttp.js";

/**
 * One structured log line per request, written when the response is over (streams included):
 * request id (accepted or generated, echoed back), key prefix, route, status, tokens, timings.
 * Never the prompt or the key.
 */
export function requestLog(deps: ApiDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = requestHeader(c, "x-request-id")?.slice(0, 128) || randomUUID();
    c.set("requestId", id);
    setHeader(c, "x-request-id", id);
    const started = performance.now();
    const outgoing = nodeResponse(c);
    const done = () => {
      const route = c.req.routePath || "unmatched";
      // A client that left before the response was complete saw nothing: 499, as nginx logs it.
      const status = outgoing && !outgoing.writableFinished ? 499 : c.res.status;
      deps.metrics.observeRequest(route, status);
      deps.log.info(
        {
          req_id: id,
          method: c.req.method,
          route,
          path: c.req.path,
          status,
          key: c.get("principal")?.prefix ?? null,
          ...c.get("logFields"),
          ms: Math.round(performance.now() - started),
        },
        "request",
      );
    };
    try {
      await next();
    } finally {
      // Every request ends in one log line and one metric, also when its client left before the
      // handler returned ('close' has then fired already).
      if (outgoing && !outgoing.closed) outgoing.once("close", done);
      else done();
    }
  };
}
