import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { setHeader } from "../nodeHttp.js";

/** Unknown body fields are accepted, logged and named in a response header: never silently ignored. */
export function reportIgnored(c: Context<AppEnv>, deps: ApiDeps, body: object, known: ReadonlySet<string>): void {
  const ignored = Object.keys(body).filter((k) => !known.has(k));
  if (ignored.length === 0) return;
  setHeader(c, "x-lunaris-ignored-params", ignored.join(","));
  deps.log.info({ req_id: c.get("requestId"), ignored }, "ignored request fields");
}
