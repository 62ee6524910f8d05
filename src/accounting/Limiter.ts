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

/** How often a server instance tells a shared store it is alive, and when it counts as dead. */
export const HEARTBEAT_MS = 2_000;
export const DEAD_AFTER_MS = 10_000;

export interface LimiterOptions {
  /** Lease lifetime: the request timeout, so a lease never outlives its request. */
  leaseMs: number;
  windowMs?: number | undefined;
  /** This server instance: its leases die with it (see HEARTBEAT_MS). */
  instanceId: string;
  /** The clock of rate windows and budget months (tests inject one); leases run on the wall clock, as heartbeats do. */
  now?: (() => number) | undefined;
  /** Most one request can cost (a full context of output): its budget hold while it runs. */
  holdPico?: bigint | undefined;
}

/** A full 8,192-token context of output at $0.06 per million: the hold when none is configured. */
const DEFAULT_HOLD_PICO = 8192n * 60_000n;

/**
 * Per-key limits: requests and tokens per minute (fixed one-minute windows), concurrent
 * requests and a monthly budget. All counters live in the store, so replicas sharing a
 * PostgreSQL database enforce them together. A concurrency lease belongs to a server
 * instance and expires with the request timeout or with its instance's heartbeat, whichever
 * comes first: a killed replica cannot lock a key out.
 *
 * A request counts against RPM only when it is admitted: one refused for concurrency, tokens
 * or budget leaves the minute's quota as it was.
 */
export class Limiter {
  private readonly windowMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly store: AccountingStore,
    private readonly options: LimiterOptions,
  ) {
    this.windowMs = options.windowMs ?? WINDOW_MS;
    this.clock = options.now ?? Date.now;
  }

  async admit(keyId: string, limits: KeyLimits): Promise<Admission> {
    const now = this.clock();
    const win = windowStart(now, this.windowMs);
    const resetS = Math.max(1, Math.ceil((win + this.windowMs - now) / 1000));
    const headers: Record<string, string> = {};

    // The budget: spend plus the holds of requests still running, on any server sharing the ledger.
    const holdId =
      limits.monthlyBudgetMicros !== null
        ? await this.holdBudget(keyId, limits.monthlyBudgetMicros, now, headers)
        : null;
    const dropHold = async () => {
      if (holdId !== null) await this.store.releaseHold(holdId);
    };
    try {
      return await this.admitHeld(keyId, limits, now, win, resetS, headers, dropHold);
    } catch (e) {
      await dropHold();
      throw e;
    }
  }

  private async holdBudget(
    keyId: string,
    budgetMicros: number,
    now: number,
    headers: Record<string, string>,
  ): Promise<string> {
    const id = randomUUID();
    const held = await this.store.holdBudget(keyId, monthOf(now), {
      id,
      instanceId: this.options.instanceId,
      amountPico: this.options.holdPico ?? DEFAULT_HOLD_PICO,
      limitPico: BigInt(budgetMicros) * 1_000_000n,
      // Expiry and liveness run on the wall clock, which heartbeats are written with.
      now: Date.now(),
      expiresAt: Date.now() + this.options.leaseMs,
      aliveAfter: Date.now() - DEAD_AFTER_MS,
    });
    if (!held) {
      throw new LimitExceeded(
        "budget",
        `This key has used its monthly budget of $${(budgetMicros / 1e6).toFixed(2)} (requests in flight included). It resets at the start of next month (UTC).`,
        secondsUntilNextMonth(now),
        headers,
      );
    }
    return id;
  }

  private async admitHeld(
    keyId: string,
    limits: KeyLimits,
    now: number,
    win: number,
    resetS: number,
    headers: Record<string, string>,
    dropHold: () => Promise<void>,
  ): Promise<Admission> {
    const counts = await this.store.readWindow(keyId, win);
    if (limits.tpm !== null) {
      headers["x-ratelimit-limit-tokens"] = String(limits.tpm);
      headers["x-ratelimit-remaining-tokens"] = String(Math.max(0, limits.tpm - counts.tokens));
      headers["x-ratelimit-reset-tokens"] = `${resetS}s`;
      if (counts.tokens >= limits.tpm) {
        throw new LimitExceeded(
          "tokens",
          `Rate limit reached: tokens per minute (TPM): limit ${limits.tpm}, used ${counts.tokens}.`,
          resetS,
          headers,
        );
      }
    }
    if (limits.rpm !== null) {
      // Refuse early when the window is already full, without taking a lease first.
      headers["x-ratelimit-limit-requests"] = String(limits.rpm);
      headers["x-ratelimit-remaining-requests"] = String(Math.max(0, limits.rpm - counts.requests));
      headers["x-ratelimit-reset-requests"] = `${resetS}s`;
      if (counts.requests >= limits.rpm) throw this.overRpm(limits.rpm, resetS, headers);
    }
    const leaseId =
      limits.maxConcurrent !== null ? await this.lease(keyId, limits.maxConcurrent, Date.now(), headers) : null;
    const release = async () => {
      if (leaseId !== null) await this.store.releaseLease(leaseId);
      await dropHold(); // the request's row is in the ledger by now: its real cost replaces the hold
    };
    const after = await this.store.countRequest(keyId, win, limits.rpm);
    if (!after) {
      await release();
      throw this.overRpm(limits.rpm ?? 0, resetS, headers);
    }
    if (limits.rpm !== null)
      headers["x-ratelimit-remaining-requests"] = String(Math.max(0, limits.rpm - after.requests));
    let released = false;
    return {
      headers,
      release: async () => {
        if (released) return;
        released = true;
        await release();
      },
    };
  }

  private async lease(keyId: string, max: number, now: number, headers: Record<string, string>): Promise<string> {
    const id = randomUUID();
    const ok = await this.store.acquireLease(
      keyId,
      {
        id,
        instanceId: this.options.instanceId,
        now,
        expiresAt: now + this.options.leaseMs,
        aliveAfter: now - DEAD_AFTER_MS,
      },
      max,
    );
    if (!ok) {
      throw new LimitExceeded(
        "concurrency",
        `Too many concurrent requests for this key (limit ${max}). Retry when one finishes.`,
        1,
        headers,
      );
    }
    return id;
  }

  private overRpm(rpm: number, resetS: number, headers: Record<string, string>): LimitExceeded {
    headers["x-ratelimit-remaining-requests"] = "0";
    return new LimitExceeded(
      "requests",
      `Rate limit reached: requests per minute (RPM): limit ${rpm}.`,
      resetS,
      headers,
    );
  }
}
