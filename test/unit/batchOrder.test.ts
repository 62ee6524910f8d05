import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BatchItem, Token } from "node-llama-cpp";
import { decodeFirst } from "../../src/engine/llama/batchOrder.js";

const item = (tokens: number): BatchItem => ({
  tokens: Array.from({ length: tokens }, (_, i) => i as Token),
  logits: [],
  evaluationPriority: 5,
});
const amounts = (items: BatchItem[], size: number) =>
  decodeFirst({ items, size }).map((p) => [items.indexOf(p.item), p.processAmount]);

describe("decodeFirst batch order", () => {
  it("puts every generating sequence's token in, even behind a prompt queued first", () => {
    // node-llama-cpp's default gave [622, 1] here: the prompt took the whole batch.
    assert.deepEqual(amounts([item(622), item(1)], 256), [
      [1, 1],
      [0, 255],
    ]);
  });

  it("fills the rest with prompts in queue order, never past the batch size", () => {
    assert.deepEqual(amounts([item(100), item(1), item(300), item(1)], 256), [
      [1, 1],
      [3, 1],
      [0, 100],
      [2, 154],
    ]);
    assert.deepEqual(amounts([item(20), item(30)], 256), [
      [0, 20],
      [1, 30],
    ]);
  });

  it("leaves out what does not fit", () => {
    assert.deepEqual(amounts([item(1), item(1), item(1), item(50)], 2), [
      [0, 1],
      [1, 1],
    ]);
  });
});
