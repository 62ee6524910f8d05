import { randomUUID } from "node:crypto";
import { KeyRing } from "./KeyRing.js";
import { type Admission, HEARTBEAT_MS, Limiter, WINDOW_MS, monthOf, windowStart } from "./Limiter.js";
import { hashSecret, newSecret, sameHash } from "./keySecrets.js";
import type { AccountingStore } from "./store/AccountingStore.js";
import type { KeyLimits, KeyRecord, Principal, UsageBucket, UsageFilter, UsageRow } from "./types.js";

export interface NewKeyInput extends Partial<KeyLimits> {
  name: string;
  isAdmin?: boolean;
}

const NO_LIMITS: Admission = { headers: {}, release: async () => {} };

export interface AccountingOptions {
  /** Keys from the environment or flags: unlimited. */
  envKeys?: KeyRing | undefined;
  /** Keys that may manage keys and read everyone's usage. */
  adminKeys?: KeyRing | undefined;
  /** How long a concurrency lease may live: the request timeout. */
  leaseMs?: number | undefined;
  windowMs?: number | undefined;
  /** The clock of rate windows, budget months and ledger times (tests inject one). */
  now?: (() => number) | undefined;
  /** Most one request can cost: what a budget holds for it while it runs. */
  holdPico?: bigint | undefined;
}

/** The caller when the server runs open (no key anywhere, loopback): may do anything. */
const ANONYMOUS: Principal = { keyId: null, prefix: null, isAdmin: true, limits: null };

/**
 * Keys, limits and the usage ledger behind one facade. Keys from the environment
 * (LUNARIS_API_KEYS) are unlimited; stored keys carry limits; an admin key manages keys.
 */
export class Accounting {
  private readonly limiter: Limiter;
  private readonly envKeys: KeyRing;
  private readonly adminKeys: KeyRing;
  private readonly windowMs: number;
  /** The clock of rate windows, budget months and ledger rows (Date.now unless a test injects one). */
  readonly now: () => number;
  /** This server process, for the concurrency leases it holds. */
  readonly instanceId = randomUUID();
  private heartbeat: NodeJS.Timeout | null = null;
  /**
   * Open mode: set once by start() (no key anywhere), left for good when a key appears, never
   * entered again: revoking the last key leaves a server that refuses everyone.
   */
  private open = false;

  constructor(
    readonly store: AccountingStore,
    o: AccountingOptions = {},
  ) {
    this.envKeys = o.envKeys ?? new KeyRing([]);
    this.adminKeys = o.adminKeys ?? new KeyRing([]);
    this.windowMs = o.windowMs ?? WINDOW_MS;
    this.now = o.now ?? Date.now;
    this.limiter = new Limiter(store, {
      leaseMs: o.leaseMs ?? 600_000,
      windowMs: this.windowMs,
      instanceId: this.instanceId,
      now: o.now,
      holdPico: o.holdPico,
    });
  }

  /**
   * Starts serving: frees leases a killed predecessor left (SQLite) or joins the instances
   * sharing the database (PostgreSQL, heart-beating), and decides open mode once.
   * `allowOpen`: whether this server may run without keys (a loopback bind, or the operator's
   * explicit --insecure-no-auth). Returns whether it runs open.
   */
  async start(allowOpen: boolean): Promise<boolean> {
    await this.store.registerInstance(this.instanceId, Date.now());
    this.heartbeat = setInterval(() => {
      this.store.heartbeat(this.instanceId, Date.now()).catch(() => undefined);
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.open = allowOpen && !(await this.hasAnyKey());
    return this.open;
  }

  /** Whether a key exists anywhere: configured, or stored and not revoked. */
  async hasAnyKey(): Promise<boolean> {
    if (this.envKeys.size > 0 || this.adminKeys.size > 0) return true;
    return this.store.hasActiveKey();
  }

  async authenticate(token: string | null): Promise<Principal | null> {
    if (token !== null) {
      const admin = this.adminKeys.match(token);
      // Configured keys may be short: identify them by id, never by a slice of the secret.
      if (admin) return { keyId: admin, prefix: admin, isAdmin: true, limits: null };
      const env = this.envKeys.match(token);
      if (env) return { keyId: env, prefix: env, isAdmin: false, limits: null };
      const hash = hashSecret(token);
      const key = await this.store.findKeyByHash(hash);
      if (key && sameHash(key.hash, hash) && key.revokedAt === null) {
        return { keyId: key.id, prefix: key.prefix, isAdmin: key.isAdmin, limits: key };
      }
    }
    if (!this.open) return null;
    // Open mode ends for good once the first key is created (from the CLI or the admin API).
    // Until then clients that always send some bearer token, or an empty one, still get in.
    if (await this.store.hasActiveKey()) this.open = false;
    return this.open ? ANONYMOUS : null;
  }

  admit(p: Principal): Promise<Admission> {
    if (p.keyId === null || p.limits === null) return Promise.resolve(NO_LIMITS);
    return this.limiter.admit(p.keyId, p.limits);
  }

  async record(row: UsageRow): Promise<void> {
    await this.store.recordUsage(row, windowStart(row.createdAt, this.windowMs), monthOf(row.createdAt));
  }

  async createKey(input: NewKeyInput): Promise<{ key: KeyRecord; secret: string }> {
    const s = newSecret();
    const key: KeyRecord = {
      id: s.id,
      name: input.name,
      prefix: s.prefix,
      hash: s.hash,
      isAdmin: input.isAdmin ?? false,
      rpm: input.rpm ?? null,
      tpm: input.tpm ?? null,
      maxConcurrent: input.maxConcurrent ?? null,
      monthlyBudgetMicros: input.monthlyBudgetMicros ?? null,
      createdAt: Date.now(),
      revokedAt: null,
    };
    await this.store.insertKey(key);
    return { key, secret: s.secret };
  }

  listKeys(): Promise<KeyRecord[]> {
    return this.store.listKeys();
  }

  getKey(id: string): Promise<KeyRecord | null> {
    return this.store.getKey(id);
  }

  updateKey(id: string, patch: Partial<KeyLimits> & { name?: string }): Promise<KeyRecord | null> {
    return this.store.updateKey(id, patch);
  }

  revokeKey(id: string): Promise<boolean> {
    return this.store.revokeKey(id, Date.now());
  }

  usage(filter: UsageFilter): Promise<UsageBucket[]> {
    return this.store.usageByDay(filter);
  }

  async close(): Promise<void> {
    if (this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
      await this.store.unregisterInstance(this.instanceId).catch(() => undefined);
    }
    await this.store.close();
  }
}
