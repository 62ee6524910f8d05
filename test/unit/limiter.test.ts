import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LimitExceeded, Limiter } from "../../src/accounting/Limiter.js";
import type { AccountingStore } from "../../src/accounting/store/AccountingStore.js";
import { SqliteStore } from "../../src/accounting/store/SqliteStore.js";
import type { KeyLimits } from "../../src/accounting/types.js";

/** The limiter on an in-memory SQLite store with a clock the test moves: no real windows slept through. */
async function setup(limits: Partial<KeyLimits>) {
  const store: AccountingStore = new SqliteStore(":memory:");
  await store.migrate();
  const clock = { now: Date.UTC(2026, 11, 5, 12, 0, 0) };
  const limiter = new Limiter(store, { leaseMs: 600_000, windowMs: 60_000, instanceId: "a", now: () => clock.now });
  const full: KeyLimits = { rpm: null, tpm: null, maxConcurrent: null, monthlyBudgetMicros: null, ...limits };
  const kind = async (p: Promise<unknown>) =>
    p.then(
      () => "ok",
      (e: unknown) => (e instanceof LimitExceeded ? e.kind : String(e)),
    );
  return { store, clock, limiter, admit: () => limiter.admit("key", full), kind };
}

describe("per-key limits (Limiter)", () => {
  it("counts a request against RPM only once it is admitted", async () => {
    const { store, clock, admit, kind } = await setup({ rpm: 3, maxConcurrent: 1 });
    const first = await admit();
    const refused = await Promise.all(Array.from({ length: 5 }, () => kind(admit())));
    assert.deepEqual(refused, Array(5).fill("concurrency"), "refused for concurrency: not counted");
    await first.release();
    for (let i = 2; i <= 3; i++) await (await admit()).release();
    assert.equal(await kind(admit()), "requests", "the fourth admitted request of the minute");
    clock.now += 60_000;
    assert.equal(await kind(admit()), "ok", "a new window");
    await store.close();
  });

  it("frees the leases a killed predecessor left when a server starts on the same SQLite file", async () => {
    const { store, admit, kind } = await setup({ maxConcurrent: 1 });
    await admit(); // never released: the process "died"
    assert.equal(await kind(admit()), "concurrency");
    await store.registerInstance("b", Date.now());
    assert.equal(await kind(admit()), "ok");
    await store.close();
  });
});
