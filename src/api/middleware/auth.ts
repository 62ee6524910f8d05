import type { MiddlewareHandler } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { adminRequired, unauthorized } from "../errors.js";
import { requestHeader } from "../nodeHttp.js";

export function bearerToken(header: string | undefined): string | null {
  const match = header ? /^Bearer\s*(.*)$/i.exec(header) : null;
  return match?.[1]?.trim() || null;
}

/** Bearer auth for the API routes; the principal travels on the context for limits and the ledger. */
export function auth(deps: ApiDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(requestHeader(c, "authorization"));
    const who = await deps.accounting.authenticate(token);
    if (!who) {
      throw unauthorized(
        token === null ? "Missing API key: send 'Authorization: Bearer <key>'." : "Incorrect API key provided.",
      );
    }
    c.set("principal", who);
    await next();
  };
}

export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!c.get("principal")?.isAdmin) {
      throw adminRequired();
    }
    await next();
  };
}
