import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { KeyLimits, KeyRecord, UsageBucket, UsageFilter, UsageRow } from "../types.js";
import type { AccountingStore, BudgetHold, LeaseRequest, WindowCounts } from "./AccountingStore.js";
import { MIGRATIONS } from "./migrations.js";
import { KEY_PATCH_COLUMNS, type KeyRow, type UsageRecordRow, toKeyRecord, toUsageRow } from "./rows.js";

/**
 * Embedded store: one SQLite file in WAL mode. A committed transaction survives the process
 * being killed (synchronous=NORMAL loses at most the last commits on power loss, never on a crash).
 */
export class SqliteStore implements AccountingStore {
  readonly kind = "sqlite" as const;
  private readonly db: Database.Database;
  /** Prepared statements by SQL text: preparing costs ~0.1 ms, more than running these. */
  private readonly statements = new Map<string, Database.Statement>();
  /** The ledger write every request makes, wrapped once: `db.transaction()` builds a new wrapper on each call. */
  private readonly recordUsageInTx: (r: UsageRow, windowStart: number, month: string) => void;

  constructor(file: string) {
    if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.recordUsageInTx = this.db.transaction((r: UsageRow, windowStart: number, month: string) =>
      this.writeUsage(r, windowStart, month),
    );
  }

  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  async migrate(): Promise<void> {
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)",
    );
    const done = new Set(
      this.sql("SELECT version FROM schema_migrations")
        .all()
        .map((r) => (r as { version: number }).version),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sqlite);
        this.sql("INSERT INTO schema_migrations VALUES (?, ?, ?)").run(m.version, m.name, Date.now());
      })();
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }

  async insertKey(k: KeyRecord): Promise<void> {
    this.sql(
      `INSERT INTO api_keys (id, name, prefix, hash, is_admin, rpm, tpm, max_concurrent, monthly_budget_micros, created_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      k.id,
      k.name,
      k.prefix,
      k.hash,
      k.isAdmin ? 1 : 0,
      k.rpm,
      k.tpm,
      k.maxConcurrent,
      k.monthlyBudgetMicros,
      k.createdAt,
      k.revokedAt,
    );
  }

  private oneKey(where: string, value: string): KeyRecord | null {
    const row = this.sql(`SELECT * FROM api_keys WHERE ${where} = ?`).get(value) as KeyRow | undefined;
    return row ? toKeyRecord(row) : null;
  }

  async findKeyByHash(hash: string): Promise<KeyRecord | null> {
    return this.oneKey("hash", hash);
  }

  async getKey(id: string): Promise<KeyRecord | null> {
    return this.oneKey("id", id);
  }

  async listKeys(): Promise<KeyRecord[]> {
    return (this.sql("SELECT * FROM api_keys ORDER BY created_at").all() as KeyRow[]).map(toKeyRecord);
  }

  async hasActiveKey(): Promise<boolean> {
    return this.sql("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1").get() !== undefined;
  }

  async updateKey(id: string, patch: Partial<KeyLimits> & { name?: string }): Promise<KeyRecord | null> {
    const entries = Object.entries(patch).filter(([k]) => k in KEY_PATCH_COLUMNS);
    if (entries.length > 0) {
      const sets = entries.map(([k]) => `${KEY_PATCH_COLUMNS[k as keyof typeof KEY_PATCH_COLUMNS]} = ?`).join(", ");
      this.sql(`UPDATE api_keys SET ${sets} WHERE id = ?`).run(...entries.map(([, v]) => v ?? null), id);
    }
    return this.getKey(id);
  }

  async revokeKey(id: string, at: number): Promise<boolean> {
    return this.sql("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(at, id).changes > 0;
  }

  async recordUsage(r: UsageRow, windowStart: number, month: string): Promise<void> {
    this.recordUsageInTx(r, windowStart, month);
  }

  private writeUsage(r: UsageRow, windowStart: number, month: string): void {
    const inserted = this.sql(
      `INSERT INTO usage_records (request_id, key_id, user_id, model, prompt_tokens, cached_tokens, completion_tokens,
           cost_pico, finish_reason, status, latency_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (request_id) DO NOTHING`,
    ).run(
      r.requestId,
      r.keyId,
      r.user,
      r.model,
      r.promptTokens,
      r.cachedTokens,
      r.completionTokens,
      r.costPico,
      r.finishReason,
      r.status,
      r.latencyMs,
      r.createdAt,
    );
    if (r.keyId === null || inserted.changes === 0) return;
    this.sql(
      `INSERT INTO monthly_spend (key_id, month, cost_pico) VALUES (?, ?, ?)
         ON CONFLICT (key_id, month) DO UPDATE SET cost_pico = cost_pico + excluded.cost_pico`,
    ).run(r.keyId, month, r.costPico);
    this.sql(
      `INSERT INTO rate_windows (key_id, window_start, requests, tokens) VALUES (?, ?, 0, ?)
         ON CONFLICT (key_id, window_start) DO UPDATE SET tokens = tokens + excluded.tokens`,
    ).run(r.keyId, windowStart, r.promptTokens + r.completionTokens);
  }

  async usageByDay(f: UsageFilter): Promise<UsageBucket[]> {
    const rows = this.sql(
      `SELECT date(created_at / 1000, 'unixepoch') AS date, model, key_id, count(*) AS requests,
           sum(prompt_tokens) AS prompt_tokens, sum(cached_tokens) AS cached_tokens,
           sum(completion_tokens) AS completion_tokens, sum(cost_pico) AS cost_pico
         FROM usage_records
         WHERE (@keyId IS NULL OR key_id = @keyId) AND created_at >= @since AND created_at < @until
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    )
      .safeIntegers(true)
      .all({ keyId: f.keyId ?? null, since: f.since ?? 0, until: f.until ?? Number.MAX_SAFE_INTEGER }) as Record<
      string,
      bigint | string | null
    >[];
    return rows.map((r) => ({
      date: String(r.date),
      model: String(r.model),
      keyId: r.key_id === null ? null : String(r.key_id),
      requests: Number(r.requests),
      promptTokens: Number(r.prompt_tokens),
      cachedTokens: Number(r.cached_tokens),
      completionTokens: Number(r.completion_tokens),
      costPico: BigInt(r.cost_pico ?? 0),
    }));
  }

  async usageRows(f: UsageFilter): Promise<UsageRow[]> {
    const rows = this.sql(
      `SELECT * FROM usage_records WHERE (@keyId IS NULL OR key_id = @keyId) AND created_at >= @since AND created_at < @until
         ORDER BY id`,
    )
      .safeIntegers(true)
      .all({
        keyId: f.keyId ?? null,
        since: f.since ?? 0,
        until: f.until ?? Number.MAX_SAFE_INTEGER,
      }) as UsageRecordRow[];
    return rows.map(toUsageRow);
  }

  async countRequest(keyId: string, windowStart: number, rpm: number | null): Promise<WindowCounts | null> {
    const row = this.sql(
      `INSERT INTO rate_windows (key_id, window_start, requests, tokens) VALUES (?, ?, 1, 0)
         ON CONFLICT (key_id, window_start) DO UPDATE SET requests = requests + 1 WHERE requests < ?
         RETURNING requests, tokens`,
    ).get(keyId, windowStart, rpm ?? Number.MAX_SAFE_INTEGER) as WindowCounts | undefined;
    return row ?? null;
  }

  async readWindow(keyId: string, windowStart: number): Promise<WindowCounts> {
    const row = this.sql("SELECT requests, tokens FROM rate_windows WHERE key_id = ? AND window_start = ?").get(
      keyId,
      windowStart,
    ) as WindowCounts | undefined;
    return row ?? { requests: 0, tokens: 0 };
  }

  async acquireLease(keyId: string, lease: LeaseRequest, max: number): Promise<boolean> {
    // better-sqlite3 is synchronous and this process is SQLite's only writer: the transaction is
    // atomic, and every lease is this process's (registerInstance cleared the others).
    return this.db
      .transaction(() => {
        this.sql("DELETE FROM leases WHERE key_id = ? AND expires_at <= ?").run(keyId, lease.now);
        const { n } = this.sql("SELECT count(*) AS n FROM leases WHERE key_id = ?").get(keyId) as { n: number };
        if (n >= max) return false;
        this.sql("INSERT INTO leases (id, key_id, expires_at, instance_id) VALUES (?, ?, ?, ?)").run(
          lease.id,
          keyId,
          lease.expiresAt,
          lease.instanceId,
        );
        return true;
      })
      .immediate();
  }

  async holdBudget(keyId: string, month: string, h: BudgetHold): Promise<boolean> {
    return this.db
      .transaction(() => {
        this.sql("DELETE FROM budget_holds WHERE key_id = ? AND expires_at <= ?").run(keyId, h.now);
        const { used } = this.sql(
          `SELECT COALESCE((SELECT cost_pico FROM monthly_spend WHERE key_id = ? AND month = ?), 0)
                + COALESCE((SELECT sum(amount_pico) FROM budget_holds WHERE key_id = ? AND month = ?), 0) AS used`,
        )
          .safeIntegers(true)
          .get(keyId, month, keyId, month) as { used: bigint };
        if (used >= h.limitPico) return false;
        this.sql(
          "INSERT INTO budget_holds (id, key_id, month, amount_pico, instance_id, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        ).run(h.id, keyId, month, h.amountPico, h.instanceId, h.expiresAt);
        return true;
      })
      .immediate();
  }

  async releaseHold(holdId: string): Promise<void> {
    this.sql("DELETE FROM budget_holds WHERE id = ?").run(holdId);
  }

  async registerInstance(): Promise<void> {
    this.sql("DELETE FROM leases").run();
    this.sql("DELETE FROM budget_holds").run();
  }

  async heartbeat(): Promise<void> {}

  async unregisterInstance(instanceId: string): Promise<void> {
    this.sql("DELETE FROM leases WHERE instance_id = ?").run(instanceId);
    this.sql("DELETE FROM budget_holds WHERE instance_id = ?").run(instanceId);
  }

  async releaseLease(leaseId: string): Promise<void> {
    this.sql("DELETE FROM leases WHERE id = ?").run(leaseId);
  }

  async monthSpendPico(keyId: string, month: string): Promise<bigint> {
    const row = this.sql("SELECT cost_pico FROM monthly_spend WHERE key_id = ? AND month = ?")
      .safeIntegers(true)
      .get(keyId, month) as { cost_pico: bigint } | undefined;
    return row?.cost_pico ?? 0n;
  }
}
