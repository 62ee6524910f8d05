import type { KeyRecord, UsageRow } from "../types.js";

/** A database row of api_keys, as either driver returns it. */
export interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  is_admin: number | boolean;
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
  monthly_budget_micros: number | string | null;
  created_at: number | string;
  revoked_at: number | string | null;
}

export function toKeyRecord(r: KeyRow): KeyRecord {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    hash: r.hash,
    isAdmin: r.is_admin === true || r.is_admin === 1,
    rpm: r.rpm,
    tpm: r.tpm,
    maxConcurrent: r.max_concurrent,
    monthlyBudgetMicros: r.monthly_budget_micros === null ? null : Number(r.monthly_budget_micros),
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}

/** Column ← field names for the updatable key fields. */
export const KEY_PATCH_COLUMNS = {
  name: "name",
  rpm: "rpm",
  tpm: "tpm",
  maxConcurrent: "max_concurrent",
  monthlyBudgetMicros: "monthly_budget_micros",
} as const;

/** A database row of usage_records, as either driver returns it (bigints may come as strings). */
export interface UsageRecordRow {
  request_id: string;
  key_id: string | null;
  user_id: string | null;
  model: string;
  prompt_tokens: number;
  cached_tokens: number;
  completion_tokens: number;
  cost_pico: number | string | bigint;
  finish_reason: string;
  status: number;
  latency_ms: number;
  created_at: number | string;
}

export function toUsageRow(r: UsageRecordRow): UsageRow {
  return {
    requestId: r.request_id,
    keyId: r.key_id,
    user: r.user_id,
    model: r.model,
    promptTokens: Number(r.prompt_tokens),
    cachedTokens: Number(r.cached_tokens),
    completionTokens: Number(r.completion_tokens),
    costPico: BigInt(r.cost_pico),
    finishReason: r.finish_reason,
    status: Number(r.status),
    latencyMs: Number(r.latency_ms),
    createdAt: Number(r.created_at),
  };
}
