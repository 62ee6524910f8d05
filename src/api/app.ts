import { Hono, type MiddlewareHandler } from "hono";
import { getPath } from "hono/utils/url";
import type { ApiDeps, AppEnv } from "./deps.js";
import { routeNotFound, toApiError } from "./errors.js";
import { setHeader } from "./nodeHttp.js";
import { ROUTES } from "./routeTable.js";
import { auth, requireAdmin } from "./middleware/auth.js";
import { cors } from "./middleware/cors.js";
import { requestLog } from "./middleware/requestLog.js";
import { limits } from "./middleware/limits.js";

/**
 * The HTTP app. Routes are served under the provider's prefix (/v1/openai) and OpenAI's
 * plain one (/v1), so either base URL works.
 */
export function createApp(deps: ApiDeps): Hono<AppEnv> {
  // Clients that build URLs from a base with a trailing slash send `//chat/completions`
  // (SillyTavern's Custom source): route on the path with repeated slashes folded.
  const app = new Hono<AppEnv>({
    getPath: (req) => {
      const path = getPath(req);
      return path.includes("//") ? path.replace(/\/{2,}/g, "/") : path;
    },
  });

  // Browser front-ends (Kobold Lite, RisuAI) call the API from their own origin.
  app.use(
    "*",
    cors({
      origins: deps.corsOrigins,
      allowHeaders: ["Authorization", "Content-Type", "X-Request-Id"],
      allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: [
        "x-request-id",
        "x-lunaris-ignored-params",
        "retry-after",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
      ],
      maxAge: 600,
    }),
  );

  app.use("*", requestLog(deps));

  // Every route comes from the one table /openapi.json is written from. Keys guard /v1/* (an
  // unknown /v1 path is a 401 to a caller without a key, never a map of the API) and each
  // keyed route elsewhere; admin routes also need an admin key.
  app.use("/v1/*", auth(deps));
  app.use("/v1/admin/*", requireAdmin());
  for (const r of ROUTES) {
    const chain: MiddlewareHandler<AppEnv>[] = [
      ...(r.access !== "public" && !r.path.startsWith("/v1/") ? [auth(deps)] : []),
      ...(r.limited ? [limits(deps)] : []),
      r.handler(deps) as MiddlewareHandler<AppEnv>,
    ];
    app.on(r.method.toUpperCase(), [r.path], ...(chain as [MiddlewareHandler<AppEnv>]));
  }

  app.notFound((c) => {
    const e = routeNotFound(c.req.method, c.req.path);
    return c.json(e.toBody(), e.status);
  });

  app.onError((err, c) => {
    const e = toApiError(err);
    if (e.status >= 500 && e.code === "internal_error") deps.log.error({ err }, "unhandled error");
    for (const [k, v] of Object.entries(e.headers)) setHeader(c, k, v);
    return c.json(e.toBody(), e.status);
  });

  return app;
}
