import type { MiddlewareHandler } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { unauthorized } from "../errors.js";

/** Bearer auth for the API routes; the key id travels on the context for the ledger. */
export function auth(deps: ApiDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const match = header ? /^Bearer\s+(.*)$/i.exec(header) : null;
    const token = match?.[1]?.trim() || null;
    const who = deps.authenticate(token);
    if (!who) {
      throw unauthorized(
        token === null
          ? "Missing API key: send 'Authorization: Bearer <key>'."
          : "Incorrect API key provided.",
      );
    }
    c.set("keyId", who.keyId);
    await next();
  };
}
