import { KeyRing } from "./KeyRing.js";
import { type Admission, Limiter, WINDOW_MS, monthOf, windowStart } from "./Limiter.js";
import { hashSecret, newSecret, sameHash } from "./keySecrets.js";
import type { AccountingStore } from "./store/AccountingStore.js";
import type { KeyLimits, KeyRecord, Principal, UsageBucket, UsageFilter, UsageRow } from "./types.js";

export interface NewKeyInput extends Partial<KeyLimits> {
  name: string;
  isAdmin?: boolean;
}

const NO_LIMITS: Admission = { headers: {}, release: async () => {} };

/**
 * Keys, limits and the usage ledger behind one facade. Keys from the environment
 * (LUNARIS_API_KEYS) are unlimited; stored keys carry limits; an admin key manages keys.
 */
export class Accounting {
  private readonly limiter: Limiter;

  constructor(
    readonly store: AccountingStore,
    private readonly envKeys: KeyRing = new KeyRing([]),
    private readonly adminKeys: KeyRing = new KeyRing([]),
    leaseMs = 600_000,
    private readonly windowMs = WINDOW_MS,
  ) {
    this.limiter = new Limiter(store, leaseMs, windowMs);
  }

  /** Auth is off only when no key exists anywhere (then the server binds loopback only). */
  async authRequired(): Promise<boolean> {
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
    // With no key anywhere, auth is off (loopback only): clients that always send some
    // bearer token, or an empty one, still get in.
    return (await this.authRequired()) ? null : { keyId: null, prefix: null, isAdmin: true, limits: null };
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

  close(): Promise<void> {
    return this.store.close();
  }
}
