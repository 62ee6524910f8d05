import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Candidate, DEFAULT_ROUTER, PrefixRouter, blockHashes } from "../../src/engine/remote/PrefixRouter.js";

const B = DEFAULT_ROUTER.blockChars;
const text = (blocks: number, seed = "x") =>
  Array.from({ length: blocks }, (_, i) => `${seed}${i}`.padEnd(B, "-")).join("");
const nodes = (...inFlight: number[]): Candidate[] => inFlight.map((n, i) => ({ id: `n${i}`, inFlight: n, weight: 1 }));

describe("blockHashes", () => {
  it("hashes whole blocks only, each covering the text before it", () => {
    assert.equal(blockHashes("a".repeat(B - 1), B).length, 0);
    const long = text(4);
    const short = blockHashes(long.slice(0, 2 * B + 5), B);
    assert.deepEqual(short, blockHashes(long, B).slice(0, 2));
    // The same block after a different prefix hashes differently.
    assert.notEqual(blockHashes(text(2, "a"), B)[1], blockHashes(`${text(1, "b")}${text(2, "a").slice(B)}`, B)[1]);
  });
});

describe("PrefixRouter (cache-aware)", () => {
  it("sends a prompt to the upstream holding its longest prefix", () => {
    const r = new PrefixRouter();
    r.remember("n1", text(10));
    const route = r.choose(`${text(10)}and the next turn`, nodes(0, 0, 0));
    assert.deepEqual(route, { index: 1, matchedBlocks: 10, totalBlocks: 10 });
  });

  it("ignores a holder of less than the threshold (30%) of the prompt", () => {
    const table: [held: number, prompt: number, affinity: boolean][] = [
      [3, 10, true],
      [2, 10, false],
      [1, 4, false],
      [2, 6, true],
    ];
    for (const [held, prompt, affinity] of table) {
      const r = new PrefixRouter();
      r.remember("n0", text(held));
      // n1 is less loaded: without affinity the request goes there.
      const route = r.choose(text(prompt), nodes(1, 0));
      assert.equal(route.index === 0, affinity, `${held}/${prompt} blocks held`);
    }
  });

  it("leaves an overloaded holder for the least-loaded one (both margins: +4 absolute and 1.5x)", () => {
    const table: [holder: number, other: number, affinity: boolean][] = [
      [3, 0, true], // 3 more, under the absolute margin
      [4, 0, false],
      [14, 10, true], // 4 more but under 1.5x
      [12, 8, false], // 4 more and 1.5x
      [20, 14, true],
    ];
    for (const [holder, other, affinity] of table) {
      const r = new PrefixRouter();
      r.remember("n0", text(8));
      assert.equal(
        r.choose(text(8), nodes(holder, other)).index === 0,
        affinity,
        `holder ${holder} in flight, other ${other}`,
      );
    }
  });

  it("weighs load by weight, and spreads new prompts to the upstream holding least", () => {
    const r = new PrefixRouter();
    const weighted: Candidate[] = [
      { id: "big", inFlight: 3, weight: 4 },
      { id: "small", inFlight: 1, weight: 1 },
    ];
    assert.equal(r.choose(text(4, "new"), weighted).index, 0);
    r.remember("n0", text(50, "old"));
    assert.equal(r.choose(text(4, "fresh"), nodes(0, 0)).index, 1);
  });

  it("keeps at most maxBlocks per upstream (least recently used dropped) and forgets a restarted upstream", () => {
    const r = new PrefixRouter({ ...DEFAULT_ROUTER, maxBlocks: 5 });
    r.remember("n0", text(4, "a"));
    r.remember("n0", text(3, "b"));
    assert.equal(r.size("n0"), 5);
    assert.equal(r.choose(text(3, "b"), nodes(0, 0)).matchedBlocks, 3, "the newest are kept");
    r.forget("n0");
    assert.equal(r.size("n0"), 0);
  });
});

describe("PrefixRouter (other policies)", () => {
  it("round robin takes each upstream in turn; least-loaded the least loaded", () => {
    const rr = new PrefixRouter({ ...DEFAULT_ROUTER, policy: "round-robin" });
    assert.deepEqual(
      [0, 1, 2, 3].map(() => rr.choose("x", nodes(5, 0, 0)).index),
      [0, 1, 2, 0],
    );
    const ll = new PrefixRouter({ ...DEFAULT_ROUTER, policy: "least-loaded" });
    ll.remember("n0", text(10));
    assert.equal(ll.choose(text(10), nodes(2, 1, 3)).index, 1);
  });
});
