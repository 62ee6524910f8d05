import { z } from "zod";
import { picoToUsd } from "../../accounting/pricing.js";
import type { KeyLimits, KeyRecord, UsageBucket } from "../../accounting/types.js";

/** Wire shapes of the key-management and usage endpoints (snake_case, USD as numbers). */

const limitFields = {
  rpm: z.number().int().min(1).nullable().optional(),
  tpm: z.number().int().min(1).nullable().optional(),
  max_concurrent: z.number().int().min(1).nullable().optional(),
  monthly_budget_usd: z.number().min(0).nullable().optional(),
};

export const createKeySchema = z
  .object({ name: z.string().min(1).max(200), admin: z.boolean().optional(), ...limitFields })
  .strict();
export const updateKeySchema = z.object({ name: z.string().min(1).max(200).optional(), ...limitFields }).strict();
export type LimitFields = z.infer<typeof updateKeySchema>;

const usdToMicros = (usd: number) => Math.round(usd * 1e6);

/** Only the fields present in the body: absent = unchanged, null = unlimited. */
export function toLimitPatch(b: LimitFields): Partial<KeyLimits> & { name?: string } {
  const patch: Partial<KeyLimits> & { name?: string } = {};
  if (b.name !== undefined) patch.name = b.name;
  if (b.rpm !== undefined) patch.rpm = b.rpm;
  if (b.tpm !== undefined) patch.tpm = b.tpm;
  if (b.max_concurrent !== undefined) patch.maxConcurrent = b.max_concurrent;
  if (b.monthly_budget_usd !== undefined) {
    patch.monthlyBudgetMicros = b.monthly_budget_usd === null ? null : usdToMicros(b.monthly_budget_usd);
  }
  return patch;
}

export function toKeyObject(k: KeyRecord) {
  return {
    id: k.id,
    object: "api_key" as const,
    name: k.name,
    prefix: k.prefix,
    admin: k.isAdmin,
    limits: {
      rpm: k.rpm,
      tpm: k.tpm,
      max_concurrent: k.maxConcurrent,
      monthly_budget_usd: k.monthlyBudgetMicros === null ? null : k.monthlyBudgetMicros / 1e6,
    },
    created_at: Math.floor(k.createdAt / 1000),
    revoked_at: k.revokedAt === null ? null : Math.floor(k.revokedAt / 1000),
  };
}

export function toUsageObject(
  buckets: readonly UsageBucket[],
  filter: { keyId: string | null; since: string | null; until: string | null },
) {
  let pico = 0n;
  const totals = {
    requests: 0,
    prompt_tokens: 0,
    cached_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    cost_usd: 0,
  };
  const data = buckets.map((b) => {
    pico += b.costPico;
    totals.requests += b.requests;
    totals.prompt_tokens += b.promptTokens;
    totals.cached_tokens += b.cachedTokens;
    totals.completion_tokens += b.completionTokens;
    return {
      date: b.date,
      model: b.model,
      key_id: b.keyId,
      requests: b.requests,
      prompt_tokens: b.promptTokens,
      cached_tokens: b.cachedTokens,
      completion_tokens: b.completionTokens,
      total_tokens: b.promptTokens + b.completionTokens,
      cost_usd: picoToUsd(b.costPico),
    };
  });
  totals.total_tokens = totals.prompt_tokens + totals.completion_tokens;
  totals.cost_usd = picoToUsd(pico);
  return { object: "usage", key_id: filter.keyId, since: filter.since, until: filter.until, data, totals };
}
