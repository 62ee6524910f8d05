import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { costPicoUsd, picoToUsd, picoToUsdString } from "../../src/accounting/pricing.js";
import { LUNARIS } from "../../src/catalog.js";

describe("pricing", () => {
  it("prices Lunaris at $0.03 in / $0.06 out per million tokens, exactly", () => {
    assert.equal(costPicoUsd(1_000_000, 0, LUNARIS.prices), 30_000_000_000n); // $0.03
    assert.equal(costPicoUsd(0, 1_000_000, LUNARIS.prices), 60_000_000_000n); // $0.06
    assert.equal(picoToUsdString(costPicoUsd(15, 16, LUNARIS.prices)), "0.00000141");
    assert.equal(picoToUsd(costPicoUsd(12, 10, LUNARIS.prices)), 9.6e-7);
  });

  it("does not drift where float sums would", () => {
    // 0.1 + 0.2 style drift: a thousand 7-token requests summed as floats is not 7000 × price.
    let pico = 0n;
    for (let i = 0; i < 1000; i++) pico += costPicoUsd(7, 3, LUNARIS.prices);
    assert.equal(pico, costPicoUsd(7000, 3000, LUNARIS.prices));
    assert.equal(picoToUsdString(pico), "0.00039");
  });
});
