import type { MiddlewareHandler } from "hono";
import { cors as honoCors } from "hono/cors";
import { requestHeader, setHeader } from "../nodeHttp.js";

export interface CorsOptions {
  /** Allowed origins; "*" allows any. */
  origins: readonly string[];
  allowHeaders: string[];
  allowMethods: string[];
  exposeHeaders: string[];
  maxAge: number;
}

/**
 * CORS for browser front-ends. Preflights (OPTIONS) are answered by hono's cors middleware.
 * Other requests get the same headers through `setHeader` (see there): hono's middleware writes
 * them on `c.res` before the route runs, and a response that already exists when the route
 * returns its own is rebuilt around a stream body (a WHATWG Response, a ReadableStream and
 * a reader pipe on every request, ~0.3 ms of CPU each on a small VM).
 */
export function cors(o: CorsOptions): MiddlewareHandler {
  const any = o.origins.includes("*");
  const preflight = honoCors({
    origin: any ? "*" : [...o.origins],
    allowHeaders: o.allowHeaders,
    allowMethods: o.allowMethods,
    exposeHeaders: o.exposeHeaders,
    maxAge: o.maxAge,
  });
  const expose = o.exposeHeaders.join(",");
  return async (c, next) => {
    if (c.req.method === "OPTIONS") return preflight(c, next);
    const origin = requestHeader(c, "origin");
    const allowed = any ? "*" : origin !== undefined && o.origins.includes(origin) ? origin : null;
    if (allowed) setHeader(c, "Access-Control-Allow-Origin", allowed);
    setHeader(c, "Access-Control-Expose-Headers", expose);
    if (!any) setHeader(c, "Vary", "Origin", true);
    await next();
  };
}
