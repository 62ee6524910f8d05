import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { invalidRequest } from "../errors.js";
import { toUsageObject } from "../protocol/accountingWire.js";

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` (UTC day) → epoch ms; `until` is inclusive of its day. */
function parseDay(value: string | undefined, param: string, endOfDay: boolean): number | undefined {
  if (value === undefined || value === "") return undefined;
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(ms))
    throw invalidRequest(`'${param}' must be a date as YYYY-MM-DD.`, param);
  return endOfDay ? ms + DAY_MS : ms;
}

async function usageFor(deps: ApiDeps, c: Context<AppEnv>, keyId: string | undefined) {
  const since = c.req.query("since");
  const until = c.req.query("until");
  const buckets = await deps.accounting.usage({
    keyId,
    since: parseDay(since, "since", false),
    until: parseDay(until, "until", true),
  });
  return c.json(toUsageObject(buckets, { keyId: keyId ?? null, since: since ?? null, until: until ?? null }));
}

/** GET /v1/usage: the calling key's usage, by day and model. */
export function ownUsageHandler(deps: ApiDeps) {
  return (c: Context<AppEnv>) => usageFor(deps, c, c.get("principal")?.keyId ?? undefined);
}

/** GET /v1/admin/usage?key_id=…: any key's usage, or every key's. */
export function adminUsageHandler(deps: ApiDeps) {
  return (c: Context<AppEnv>) => usageFor(deps, c, c.req.query("key_id") || undefined);
}
