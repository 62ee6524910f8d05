import type { MiddlewareHandler } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { nodeResponse, setHeader } from "../nodeHttp.js";

/**
 * Per-key limits for generation routes: admits the request (or throws a 429), puts the
 * x-ratelimit-* headers on the response, and frees the concurrency lease when the response
 * is over — completed, failed, or abandoned by the client mid-stream.
 */
export function limits(deps: ApiDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get("principal");
    if (!principal) return next();
    const admission = await deps.accounting.admit(principal);
    for (const [k, v] of Object.entries(admission.headers)) setHeader(c, k, v);
    const outgoing = nodeResponse(c);
    const release = () => {
      admission.release().catch((err: unknown) => deps.log.error({ err }, "could not release a concurrency lease"));
    };
    // A client gone while admission ran: 'close' has fired already.
    if (outgoing?.closed) release();
    else if (outgoing) outgoing.once("close", release);
    try {
      await next();
    } finally {
      if (!outgoing) release();
    }
  };
}
