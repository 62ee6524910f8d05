import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CONTIGUITY_MARGIN,
  LONG_CACHE_MARGIN,
  type SequenceView,
  chooseSequence,
} from "../../src/engine/llama/sequenceChoice.js";

const LONG = 256;
const free = (held: number, shared: number, lastUsedAt = 0): SequenceView => ({
  busy: false,
  held,
  shared,
  lastUsedAt,
});
const busy: SequenceView = { busy: true, held: 100, shared: 0, lastUsedAt: 0 };

describe("chooseSequence", () => {
  const table: [name: string, views: SequenceView[], chosen: number | null][] = [
    ["none free", [busy, busy], null],
    ["the longest shared prefix", [free(10, 5), free(40, 30), free(20, 10)], 1],
    ["ties: the least recently used", [free(10, 5, 300), free(10, 5, 100), free(10, 5, 200)], 1],
    // A long cache (>= 256 tokens past the shared part) is given up only for 16 tokens more.
    ["a long cache kept when it shares barely more", [free(5, 5), free(1000, 5 + LONG_CACHE_MARGIN - 1)], 0],
    ["a long cache taken when it shares 16 more", [free(5, 5), free(1000, 5 + LONG_CACHE_MARGIN)], 1],
    ["a conversation returning to its own long cache", [free(0, 0), free(900, 880)], 1],
    ["only long caches free: the one sharing most", [free(900, 5, 1), free(800, 9, 2)], 1],
    // Contiguity: within 64 tokens of the best share, keep the busy sequences in one run.
    ["contiguous within the margin", [busy, free(10, 5), free(100, 5 + CONTIGUITY_MARGIN - 1)], 1],
    ["share wins past the margin", [busy, free(10, 5), free(100, 5 + CONTIGUITY_MARGIN)], 2],
    ["equal runs and shares: the lower id", [free(0, 0), busy, free(0, 0)], 0],
  ];
  for (const [name, views, chosen] of table) {
    it(name, () => assert.equal(chooseSequence(views, LONG), chosen));
  }
});
