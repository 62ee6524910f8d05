import type { BatchItem, PrioritizedBatchItem } from "node-llama-cpp";

/**
 * Which queued tokens go into the next `llama_decode`: every generating sequence's one token
 * first, then prompt tokens in the order they were queued, up to the batch size. This is how
 * llama.cpp's server and vLLM fill a step.
 *
 * It replaces node-llama-cpp's default (`maximumParallelism`), whose redistribution passes
 * never subtract what they hand out: a prompt queued ahead of a generating sequence is given
 * the whole batch and the generating sequence is left out of it. Measured through the server
 * (llama_decode calls logged, 1B shape): a stream got no token for 10 s while a 1,100-token
 * prompt was read beside it. The scheduler sizes its prompt chunks to fit the batch, so this
 * order only decides when something else queues more than fits (prompt scoring).
 */
export function decodeFirst({ items, size }: { items: readonly BatchItem[]; size: number }): PrioritizedBatchItem[] {
  let left = size;
  const order: PrioritizedBatchItem[] = [];
  for (const item of items) {
    if (item.tokens.length !== 1 || left === 0) continue;
    order.push({ item, processAmount: 1 });
    left--;
  }
  for (const item of items) {
    if (item.tokens.length === 1 || left === 0) continue;
    const processAmount = Math.min(item.tokens.length, left);
    order.push({ item, processAmount });
    left -= processAmount;
  }
  return order;
}
