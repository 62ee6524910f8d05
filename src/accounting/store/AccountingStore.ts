import type { KeyLimits, KeyRecord, UsageBucket, UsageFilter, UsageRow } from "../types.js";

export interface LeaseRequest {
  id: string;
  instanceId: string;
  now: number;
  expiresAt: number;
  /** Leases of instances whose last heartbeat is older than this are dead. */
  aliveAfter: number;
}

export interface BudgetHold {
  id: string;
  instanceId: string;
  /** Most the request can cost: taken from what the month has left while it runs. */
  amountPico: bigint;
  /** The key's monthly budget. */
  limitPico: bigint;
  now: number;
  expiresAt: number;
  /** Holds of instances whose last heartbeat is older than this are dead. */
  aliveAfter: number;
}

export interface WindowCounts {
  requests: number;
  tokens: number;
}

/**
 * Persistence for keys, the usage ledger and limit counters. SQLite and PostgreSQL implement
 * it with the same semantics; every limit operation is one atomic statement (or one locked
 * transaction), so several server processes on one PostgreSQL enforce limits jointly.
 */
export interface AccountingStore {
  readonly kind: "sqlite" | "postgres";
  migrate(): Promise<void>;
  close(): Promise<void>;

  insertKey(key: KeyRecord): Promise<void>;
  findKeyByHash(hash: string): Promise<KeyRecord | null>;
  getKey(id: string): Promise<KeyRecord | null>;
  listKeys(): Promise<KeyRecord[]>;
  /** Whether any key is not revoked: asked on every request that carries no known key. */
  hasActiveKey(): Promise<boolean>;
  updateKey(id: string, patch: Partial<KeyLimits> & { name?: string }): Promise<KeyRecord | null>;
  revokeKey(id: string, at: number): Promise<boolean>;

  /**
   * Inserts a ledger row and adds its cost and tokens to the key's month and minute counters,
   * atomically; a second row for the same request id changes nothing.
   */
  recordUsage(row: UsageRow, windowStart: number, month: string): Promise<void>;
  usageByDay(filter: UsageFilter): Promise<UsageBucket[]>;
  /** Ledger rows, oldest first (audits, exports, tests). */
  usageRows(filter: UsageFilter): Promise<UsageRow[]>;

  /** Counts one request in the window unless it already holds `rpm`; null when over the limit. */
  countRequest(keyId: string, windowStart: number, rpm: number | null): Promise<WindowCounts | null>;
  readWindow(keyId: string, windowStart: number): Promise<WindowCounts>;
  /**
   * Takes a concurrency lease for `lease.instanceId` unless the key already holds `max` live
   * ones: unexpired, and held by an instance that heart-beat after `lease.aliveAfter`.
   */
  acquireLease(keyId: string, lease: LeaseRequest, max: number): Promise<boolean>;
  releaseLease(leaseId: string): Promise<void>;

  /**
   * A server instance starts: SQLite (one server process per file) frees every lease a previous
   * process left; PostgreSQL records the instance's first heartbeat.
   */
  registerInstance(instanceId: string, now: number): Promise<void>;
  heartbeat(instanceId: string, now: number): Promise<void>;
  /** A clean stop: the instance's leases and heartbeat go. */
  unregisterInstance(instanceId: string): Promise<void>;
  monthSpendPico(keyId: string, month: string): Promise<bigint>;
  /**
   * Takes a budget hold unless the month's spend plus the key's live holds already reach the
   * budget (a request is admitted while anything is left; what may overshoot is bounded by
   * the one request admitted last, however many run at once, on however many gateways).
   */
  holdBudget(keyId: string, month: string, hold: BudgetHold): Promise<boolean>;
  releaseHold(holdId: string): Promise<void>;
}
