import { randomUUID } from "node:crypto";
import type { AccountingStore } from "./store/AccountingStore.js";
import type { KeyLimits } from "./types.js";

/** Rate-limit windows are one minute (RPM/TPM); tests shorten them. */
export const WINDOW_MS = 60_000;

export type LimitKind = "requests" | "tokens" | "concurrency" | "budget";

export class LimitExceeded extends Error {
  constructor(
    readonly kind: LimitKind,
    message: string,
    readonly retryAfterS: number,
    readonly headers: Record<string, string>,
  ) {
    super(message);
    this.name = "LimitExceeded";
  }
}

export interface Admission {
  /** OpenAI's x-ratelimit-* headers for this key, for every response. */
  headers: Record<string, string>;
  release(): Promise<void>;
}

export function windowStart(now: number, windowMs = WINDOW_MS): number {
  return now - (now % windowMs);
}

export function monthOf(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

function secondsUntilNextMonth(now: number): number {
  const d = new Date(now);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return Math.ceil((next - now) / 1000);
}

/**
 * Per-key limits: requests and tokens per minute (fixed one-minute windows), concurrent
 * requests (leases that expire with the request timeout, so a crashed replica cannot hold
 * them forever) and a monthly budget. All counters live in the store, so replicas sharing
 * a PostgreSQL database enforce them together.
 */
export class Limiter {
  constructor(
    private readonly store: AccountingStore,
    private readonly leaseMs: number,
    private readonly windowMs = WINDOW_MS,
  ) {}

  async admit(keyId: string, limits: KeyLimits, now = Date.now()): Promise<Admission> {
    const win = windowStart(now, this.windowMs);
    const resetS = Math.max(1, Math.ceil((win + this.windowMs - now) / 1000));
    const headers: Record<string, string> = {};

    if (limits.monthlyBudgetMicros !== null) {
      const spent = await this.store.monthSpendPico(keyId, monthOf(now));
      if (spent >= BigInt(limits.monthlyBudgetMicros) * 1_000_000n) {
        throw new LimitExceeded(
          "budget",
          `This key has used its monthly budget of $${(limits.monthlyBudgetMicros / 1e6).toFixed(2)}. It resets at the start of next month (UTC).`,
          secondsUntilNextMonth(now),
          headers,
        );
      }
    }
    const counts = await this.store.readWindow(keyId, win);
    if (limits.tpm !== null) {
      headers["x-ratelimit-limit-tokens"] = String(limits.tpm);
      headers["x-ratelimit-remaining-tokens"] = String(Math.max(0, limits.tpm - counts.tokens));
      headers["x-ratelimit-reset-tokens"] = `${resetS}s`;
      if (counts.tokens >= limits.tpm) {
        throw new LimitExceeded("tokens", `Rate limit reached: tokens per minute (TPM): limit ${limits.tpm}, used ${counts.tokens}.`, resetS, headers);
      }
    }
    const after = await this.store.countRequest(keyId, win, limits.rpm);
    if (limits.rpm !== null) {
      headers["x-ratelimit-limit-requests"] = String(limits.rpm);
      headers["x-ratelimit-remaining-requests"] = String(after ? Math.max(0, limits.rpm - after.requests) : 0);
      headers["x-ratelimit-reset-requests"] = `${resetS}s`;
      if (!after) {
        throw new LimitExceeded("requests", `Rate limit reached: requests per minute (RPM): limit ${limits.rpm}.`, resetS, headers);
      }
    }
    let leaseId: string | null = null;
    if (limits.maxConcurrent !== null) {
      leaseId = randomUUID();
      const ok = await this.store.acquireLease(keyId, leaseId, now, now + this.leaseMs, limits.maxConcurrent);
      if (!ok) {
        throw new LimitExceeded(
          "concurrency",
          `Too many concurrent requests for this key (limit ${limits.maxConcurrent}). Retry when one finishes.`,
          1,
          headers,
        );
      }
    }
    let released = false;
    return {
      headers,
      release: async () => {
        if (released || leaseId === null) return;
        released = true;
        await this.store.releaseLease(leaseId);
      },
    };
  }
}
