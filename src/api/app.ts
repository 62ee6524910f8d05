import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { getPath } from "hono/utils/url";
import type { ApiDeps, AppEnv } from "./deps.js";
import { routeNotFound, toApiError } from "./errors.js";
import { nodeResponse, requestHeader, setHeader } from "./nodeHttp.js";
import { openApiDocument } from "./openapi.js";
import { auth, requireAdmin } from "./middleware/auth.js";
import { cors } from "./middleware/cors.js";
import { limits } from "./middleware/limits.js";
import { adminKeysRoutes } from "./routes/adminKeys.js";
import { adminUpstreamsHandler } from "./routes/adminUpstreams.js";
import { adminUsageHandler, ownUsageHandler } from "./routes/usage.js";
import { chatCompletionsHandler } from "./routes/chatCompletions.js";
import { healthHandler } from "./routes/health.js";
import { detokenizeHandler, propsHandler, tokenizeHandler } from "./routes/llamacppHelpers.js";
import { llamaCompletionHandler } from "./routes/llamaCompletion.js";
import { listModelsHandler, retrieveModelHandler } from "./routes/models.js";
import { playgroundRoutes } from "./routes/playground.js";
import { textCompletionsHandler } from "./routes/textCompletions.js";

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
      exposeHeaders: ["x-request-id", "x-lunaris-ignored-params", "retry-after", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"],
      maxAge: 600,
    }),
  );

  // One structured log line per request, written when the response is over (streams included):
  // request id (accepted or generated, echoed back), key prefix, route, status, tokens, timings.
  // Never the prompt or the key.
  app.use("*", async (c, next) => {
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
  });

  app.route("/", playgroundRoutes(deps));
  app.get("/health", healthHandler(deps));
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  app.get("/metrics", async (c) => c.text(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType }));

  app.use("/v1/*", auth(deps));
  for (const p of ["/tokenize", "/detokenize", "/props", "/completion"]) app.use(p, auth(deps));
  app.post("/completion", limits(deps), llamaCompletionHandler(deps));
  app.post("/tokenize", tokenizeHandler(deps));
  app.post("/detokenize", detokenizeHandler(deps));
  app.get("/props", propsHandler(deps));
  app.use("/v1/admin/*", requireAdmin());
  app.route("/v1/admin/keys", adminKeysRoutes(deps));
  app.get("/v1/admin/usage", adminUsageHandler(deps));
  app.get("/v1/admin/upstreams", adminUpstreamsHandler(deps));
  for (const prefix of ["/v1/openai", "/v1"]) {
    app.post(`${prefix}/chat/completions`, limits(deps), chatCompletionsHandler(deps));
    app.post(`${prefix}/completions`, limits(deps), textCompletionsHandler(deps));
    app.get(`${prefix}/models`, listModelsHandler(deps));
    app.get(`${prefix}/models/:id{.+}`, retrieveModelHandler(deps));
    app.get(`${prefix}/usage`, ownUsageHandler(deps));
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
