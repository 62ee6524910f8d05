/**
 * Versioned schema migrations, applied in order at start-up and recorded in
 * schema_migrations. Times are epoch milliseconds and money integer pico-dollars in both
 * dialects, so the two stores read and write the same values.
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "keys, usage ledger, limit counters",
    sqlite: `
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
        is_admin INTEGER NOT NULL DEFAULT 0, rpm INTEGER, tpm INTEGER, max_concurrent INTEGER,
        monthly_budget_micros INTEGER, created_at INTEGER NOT NULL, revoked_at INTEGER
      );
      CREATE TABLE usage_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, key_id TEXT, user_id TEXT,
        model TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL, cost_pico INTEGER NOT NULL, finish_reason TEXT NOT NULL,
        status INTEGER NOT NULL, latency_ms INTEGER NOT NULL, created_at INTEGER NOT NULL
      );
      CREATE INDEX usage_records_key_time ON usage_records (key_id, created_at);
      CREATE INDEX usage_records_time ON usage_records (created_at);
      CREATE TABLE rate_windows (
        key_id TEXT NOT NULL, window_start INTEGER NOT NULL, requests INTEGER NOT NULL, tokens INTEGER NOT NULL,
        PRIMARY KEY (key_id, window_start)
      );
      CREATE TABLE leases (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX leases_key ON leases (key_id, expires_at);
      CREATE TABLE monthly_spend (
        key_id TEXT NOT NULL, month TEXT NOT NULL, cost_pico INTEGER NOT NULL, PRIMARY KEY (key_id, month)
      );`,
    postgres: `
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
        is_admin BOOLEAN NOT NULL DEFAULT FALSE, rpm INTEGER, tpm INTEGER, max_concurrent INTEGER,
        monthly_budget_micros BIGINT, created_at BIGINT NOT NULL, revoked_at BIGINT
      );
      CREATE TABLE usage_records (
        id BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL, key_id TEXT, user_id TEXT,
        model TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL, cost_pico BIGINT NOT NULL, finish_reason TEXT NOT NULL,
        status INTEGER NOT NULL, latency_ms INTEGER NOT NULL, created_at BIGINT NOT NULL
      );
      CREATE INDEX usage_records_key_time ON usage_records (key_id, created_at);
      CREATE INDEX usage_records_time ON usage_records (created_at);
      CREATE TABLE rate_windows (
        key_id TEXT NOT NULL, window_start BIGINT NOT NULL, requests INTEGER NOT NULL, tokens BIGINT NOT NULL,
        PRIMARY KEY (key_id, window_start)
      );
      CREATE TABLE leases (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, expires_at BIGINT NOT NULL);
      CREATE INDEX leases_key ON leases (key_id, expires_at);
      CREATE TABLE monthly_spend (
        key_id TEXT NOT NULL, month TEXT NOT NULL, cost_pico BIGINT NOT NULL, PRIMARY KEY (key_id, month)
      );`,
  },
  {
    version: 2,
    name: "concurrency leases belong to a server instance",
    // Leases of a server that died (kill -9, power loss) must not lock its keys out until they
    // expire: each lease names its instance, and an instance that stopped heart-beating frees them.
    sqlite: `
      ALTER TABLE leases ADD COLUMN instance_id TEXT NOT NULL DEFAULT '';
      CREATE TABLE instances (id TEXT PRIMARY KEY, heartbeat_at INTEGER NOT NULL);`,
    postgres: `
      ALTER TABLE leases ADD COLUMN instance_id TEXT NOT NULL DEFAULT '';
      CREATE TABLE instances (id TEXT PRIMARY KEY, heartbeat_at BIGINT NOT NULL);`,
  },
  {
    version: 3,
    name: "budget holds, and one ledger row per request",
    // Gateways sharing a ledger admit a request against the month's spend plus what requests in
    // flight may still cost (their holds), so a budget holds under concurrency; a row written
    // twice for one request id (a retried write) bills once.
    sqlite: `
      CREATE TABLE budget_holds (
        id TEXT PRIMARY KEY, key_id TEXT NOT NULL, month TEXT NOT NULL, amount_pico INTEGER NOT NULL,
        instance_id TEXT NOT NULL, expires_at INTEGER NOT NULL
      );
      CREATE INDEX budget_holds_key ON budget_holds (key_id, month);
      CREATE UNIQUE INDEX usage_records_request ON usage_records (request_id);`,
    postgres: `
      CREATE TABLE budget_holds (
        id TEXT PRIMARY KEY, key_id TEXT NOT NULL, month TEXT NOT NULL, amount_pico BIGINT NOT NULL,
        instance_id TEXT NOT NULL, expires_at BIGINT NOT NULL
      );
      CREATE INDEX budget_holds_key ON budget_holds (key_id, month);
      CREATE UNIQUE INDEX usage_records_request ON usage_records (request_id);`,
  },
];
