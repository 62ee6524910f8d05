import type { KeyRecord } from "../types.js";

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
