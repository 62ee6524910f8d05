import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import type { ApiDeps, AppEnv } from "./deps.js";
import { routeNotFound, toApiError } from "./errors.js";
import { auth, requireAdmin } from "./middleware/auth.js";
import { limits } from "./middleware/limits.js";
import { adminKeysRoutes } from "./routes/adminKeys.js";
import { adminUsageHandler, ownUsageHandler } from "./routes/usage.js";
import { chatCompletionsHandler } from "./routes/chatCompletions.js";
import { healthHandler } from "./routes/health.js";
import { listModelsHandler } from "./routes/models.js";

/**
 * The HTTP app. Routes are served under the provider's prefix (/v1/openai) and OpenAI's
 * plain one (/v1), so either base URL works.
 */
export function createApp(deps: ApiDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("*", async (c, next) => {
    const id = c.req.header("x-request-id") ?? randomUUID();
    c.set("requestId", id);
    c.header("x-request-id", id);
    const started = performance.now();
    await next();
    deps.log.info(
      { reqId: id, method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) },
      "request",
    );
  });

  app.get("/health", healthHandler(deps));

  app.use("/v1/*", auth(deps));
  app.use("/v1/admin/*", requireAdmin());
  app.route("/v1/admin/keys", adminKeysRoutes(deps));
  app.get("/v1/admin/usage", adminUsageHandler(deps));
  for (const prefix of ["/v1/openai", "/v1"]) {
    app.post(`${prefix}/chat/completions`, limits(deps), chatCompletionsHandler(deps));
    app.get(`${prefix}/models`, listModelsHandler(deps));
    app.get(`${prefix}/usage`, ownUsageHandler(deps));
  }

  app.notFound((c) => {
    const e = routeNotFound(c.req.method, c.req.path);
    return c.json(e.toBody(), e.status);
  });

  app.onError((err, c) => {
    const e = toApiError(err);
    if (e.status >= 500 && e.code === "internal_error") deps.log.error({ err }, "unhandled error");
    for (const [k, v] of Object.entries(e.headers)) c.header(k, v);
    return c.json(e.toBody(), e.status);
  });

  return app;
}
