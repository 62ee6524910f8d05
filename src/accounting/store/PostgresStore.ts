import pg from "pg";
import type { KeyLimits, KeyRecord, UsageBucket, UsageFilter, UsageRow } from "../types.js";
import type { AccountingStore, BudgetHold, LeaseRequest, WindowCounts } from "./AccountingStore.js";
import { MIGRATIONS } from "./migrations.js";
import { KEY_PATCH_COLUMNS, type KeyRow, type UsageRecordRow, toKeyRecord, toUsageRow } from "./rows.js";

// Any fixed number: serialises migrations when several replicas start at once.
const MIGRATION_LOCK = 7_305_551;

/** Shared store for several server processes: limits are enforced jointly through the database. */
export class PostgresStore implements AccountingStore {
  readonly kind = "postgres" as const;
  private readonly pool: pg.Pool;

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 10 });
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      const r = await fn(c);
      await c.query("COMMIT");
      return r;
    } catch (e) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await c.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)",
      );
      const done = new Set(
        (await c.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version),
      );
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await c.query(m.postgres);
        await c.query("INSERT INTO schema_migrations VALUES ($1, $2, $3)", [m.version, m.name, Date.now()]);
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async insertKey(k: KeyRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO api_keys (id, name, prefix, hash, is_admin, rpm, tpm, max_concurrent, monthly_budget_micros, created_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        k.id,
        k.name,
        k.prefix,
        k.hash,
        k.isAdmin,
        k.rpm,
        k.tpm,
        k.maxConcurrent,
        k.monthlyBudgetMicros,
        k.createdAt,
        k.revokedAt,
      ],
    );
  }

  private async oneKey(where: string, value: string): Promise<KeyRecord | null> {
    const r = await this.pool.query<KeyRow>(`SELECT * FROM api_keys WHERE ${where} = $1`, [value]);
    return r.rows[0] ? toKeyRecord(r.rows[0]) : null;
  }

  findKeyByHash(hash: string): Promise<KeyRecord | null> {
    return this.oneKey("hash", hash);
  }

  getKey(id: string): Promise<KeyRecord | null> {
    return this.oneKey("id", id);
  }

  async listKeys(): Promise<KeyRecord[]> {
    return (await this.pool.query<KeyRow>("SELECT * FROM api_keys ORDER BY created_at")).rows.map(toKeyRecord);
  }

  async hasActiveKey(): Promise<boolean> {
    return (await this.pool.query("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1")).rowCount === 1;
  }

  async updateKey(id: string, patch: Partial<KeyLimits> & { name?: string }): Promise<KeyRecord | null> {
    const entries = Object.entries(patch).filter(([k]) => k in KEY_PATCH_COLUMNS);
    if (entries.length > 0) {
      const sets = entries
        .map(([k], i) => `${KEY_PATCH_COLUMNS[k as keyof typeof KEY_PATCH_COLUMNS]} = $${i + 1}`)
        .join(", ");
      await this.pool.query(`UPDATE api_keys SET ${sets} WHERE id = $${entries.length + 1}`, [
        ...entries.map(([, v]) => v ?? null),
        id,
      ]);
    }
    return this.getKey(id);
  }

  async revokeKey(id: string, at: number): Promise<boolean> {
    const r = await this.pool.query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [
      at,
      id,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async recordUsage(r: UsageRow, windowStart: number, month: string): Promise<void> {
    await this.tx(async (c) => {
      const inserted = await c.query(
        `INSERT INTO usage_records (request_id, key_id, user_id, model, prompt_tokens, cached_tokens, completion_tokens,
           cost_pico, finish_reason, status, latency_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (request_id) DO NOTHING`,
        [
          r.requestId,
          r.keyId,
          r.user,
          r.model,
          r.promptTokens,
          r.cachedTokens,
          r.completionTokens,
          r.costPico.toString(),
          r.finishReason,
          r.status,
          r.latencyMs,
          r.createdAt,
        ],
      );
      if (r.keyId === null || inserted.rowCount === 0) return;
      await c.query(
        `INSERT INTO monthly_spend (key_id, month, cost_pico) VALUES ($1, $2, $3)
         ON CONFLICT (key_id, month) DO UPDATE SET cost_pico = monthly_spend.cost_pico + excluded.cost_pico`,
        [r.keyId, month, r.costPico.toString()],
      );
      await c.query(
        `INSERT INTO rate_windows (key_id, window_start, requests, tokens) VALUES ($1, $2, 0, $3)
         ON CONFLICT (key_id, window_start) DO UPDATE SET tokens = rate_windows.tokens + excluded.tokens`,
        [r.keyId, windowStart, r.promptTokens + r.completionTokens],
      );
    });
  }

  async usageByDay(f: UsageFilter): Promise<UsageBucket[]> {
    const r = await this.pool.query<Record<string, string | null>>(
      `SELECT to_char(to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS date, model, key_id,
         count(*) AS requests, sum(prompt_tokens) AS prompt_tokens, sum(cached_tokens) AS cached_tokens,
         sum(completion_tokens) AS completion_tokens, sum(cost_pico) AS cost_pico
       FROM usage_records
       WHERE ($1::text IS NULL OR key_id = $1) AND created_at >= $2 AND created_at < $3
       GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      [f.keyId ?? null, f.since ?? 0, f.until ?? Number.MAX_SAFE_INTEGER],
    );
    return r.rows.map((row) => ({
      date: String(row.date),
      model: String(row.model),
      keyId: row.key_id ?? null,
      requests: Number(row.requests),
      promptTokens: Number(row.prompt_tokens),
      cachedTokens: Number(row.cached_tokens),
      completionTokens: Number(row.completion_tokens),
      costPico: BigInt(row.cost_pico ?? 0),
    }));
  }

  async usageRows(f: UsageFilter): Promise<UsageRow[]> {
    const r = await this.pool.query<UsageRecordRow>(
      `SELECT * FROM usage_records WHERE ($1::text IS NULL OR key_id = $1) AND created_at >= $2 AND created_at < $3 ORDER BY id`,
      [f.keyId ?? null, f.since ?? 0, f.until ?? Number.MAX_SAFE_INTEGER],
    );
    return r.rows.map(toUsageRow);
  }

  async countRequest(keyId: string, windowStart: number, rpm: number | null): Promise<WindowCounts | null> {
    // One statement: the row lock makes the check-and-increment atomic across processes.
    const r = await this.pool.query<{ requests: number; tokens: string }>(
      `INSERT INTO rate_windows (key_id, window_start, requests, tokens) VALUES ($1, $2, 1, 0)
       ON CONFLICT (key_id, window_start) DO UPDATE SET requests = rate_windows.requests + 1
       WHERE rate_windows.requests < $3
       RETURNING requests, tokens`,
      [keyId, windowStart, rpm ?? 2_147_483_647],
    );
    const row = r.rows[0];
    return row ? { requests: Number(row.requests), tokens: Number(row.tokens) } : null;
  }

  async readWindow(keyId: string, windowStart: number): Promise<WindowCounts> {
    const r = await this.pool.query<{ requests: number; tokens: string }>(
      "SELECT requests, tokens FROM rate_windows WHERE key_id = $1 AND window_start = $2",
      [keyId, windowStart],
    );
    const row = r.rows[0];
    return row ? { requests: Number(row.requests), tokens: Number(row.tokens) } : { requests: 0, tokens: 0 };
  }

  async acquireLease(keyId: string, lease: LeaseRequest, max: number): Promise<boolean> {
    return this.tx(async (c) => {
      // A per-key advisory lock makes count-then-insert atomic across server processes.
      await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [keyId]);
      // Expired leases, and leases of instances that stopped heart-beating (killed, crashed).
      await c.query(
        `DELETE FROM leases WHERE key_id = $1
           AND (expires_at <= $2 OR instance_id NOT IN (SELECT id FROM instances WHERE heartbeat_at > $3))`,
        [keyId, lease.now, lease.aliveAfter],
      );
      const n = Number(
        (await c.query<{ n: string }>("SELECT count(*) AS n FROM leases WHERE key_id = $1", [keyId])).rows[0]?.n ?? 0,
      );
      if (n >= max) return false;
      await c.query("INSERT INTO leases (id, key_id, expires_at, instance_id) VALUES ($1, $2, $3, $4)", [
        lease.id,
        keyId,
        lease.expiresAt,
        lease.instanceId,
      ]);
      return true;
    });
  }

  async holdBudget(keyId: string, month: string, h: BudgetHold): Promise<boolean> {
    return this.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [keyId]);
      await c.query(
        `DELETE FROM budget_holds WHERE key_id = $1
           AND (expires_at <= $2 OR instance_id NOT IN (SELECT id FROM instances WHERE heartbeat_at > $3))`,
        [keyId, h.now, h.aliveAfter],
      );
      const r = await c.query<{ used: string }>(
        `SELECT COALESCE((SELECT cost_pico FROM monthly_spend WHERE key_id = $1 AND month = $2), 0)
              + COALESCE((SELECT sum(amount_pico) FROM budget_holds WHERE key_id = $1 AND month = $2), 0) AS used`,
        [keyId, month],
      );
      if (BigInt(r.rows[0]?.used ?? "0") >= h.limitPico) return false;
      await c.query(
        "INSERT INTO budget_holds (id, key_id, month, amount_pico, instance_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        [h.id, keyId, month, h.amountPico.toString(), h.instanceId, h.expiresAt],
      );
      return true;
    });
  }

  async releaseHold(holdId: string): Promise<void> {
    await this.pool.query("DELETE FROM budget_holds WHERE id = $1", [holdId]);
  }

  async registerInstance(instanceId: string, now: number): Promise<void> {
    await this.heartbeat(instanceId, now);
  }

  async heartbeat(instanceId: string, now: number): Promise<void> {
    await this.pool.query(
      "INSERT INTO instances (id, heartbeat_at) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at",
      [instanceId, now],
    );
  }

  async unregisterInstance(instanceId: string): Promise<void> {
    await this.pool.query("DELETE FROM leases WHERE instance_id = $1", [instanceId]);
    await this.pool.query("DELETE FROM budget_holds WHERE instance_id = $1", [instanceId]);
    await this.pool.query("DELETE FROM instances WHERE id = $1", [instanceId]);
  }

  async releaseLease(leaseId: string): Promise<void> {
    await this.pool.query("DELETE FROM leases WHERE id = $1", [leaseId]);
  }

  async monthSpendPico(keyId: string, month: string): Promise<bigint> {
    const r = await this.pool.query<{ cost_pico: string }>(
      "SELECT cost_pico FROM monthly_spend WHERE key_id = $1 AND month = $2",
      [keyId, month],
    );
    return BigInt(r.rows[0]?.cost_pico ?? 0);
  }
}
