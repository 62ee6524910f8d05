import { commonPrefixLength } from "./tokens.js";
import type { LlamaContextSequence, Token } from "node-llama-cpp";

/**
 * Prompt chunk for reproducible requests (the client chose the seed). llama.cpp's results for a
 * token depend on how the prompt was cut into batches, and a cached reply was decoded a token at
 * a time: a chat's warm turn diverged from the same prompt read cold after 4-10 tokens. Reading
 * in chunks at fixed positions, and reusing a cache only up to a chunk boundary read that way,
 * makes a cached prefix bit-identical to a fresh read (tiny model, greedy: aligned warm == cold;
 * one batch, or a split at 100, diverged at token 13). docs/determinism.md has the measurements.
 */
export const ALIGNED_CHUNK = 64;

const aligned = new WeakMap<LlamaContextSequence, number>();

/** How many leading tokens of the sequence's cache were read in aligned chunks. */
export function alignedPrefix(sequence: LlamaContextSequence): number {
  return aligned.get(sequence) ?? 0;
}

export function setAlignedPrefix(sequence: LlamaContextSequence, tokens: number): void {
  aligned.set(sequence, tokens - (tokens % ALIGNED_CHUNK));
}

/**
 * How much of a sequence's cache a prompt can reuse: the shared prefix, less the prompt's last
 * token (logits are not part of the cached state, so at least one token is read). A seeded
 * request (`aligned`: the sequence's aligned prefix) reuses only whole aligned chunks of it.
 */
export function reusablePrefix(held: readonly Token[], prompt: readonly Token[], alignedTokens: number | null): number {
  const shared = Math.min(commonPrefixLength(held, prompt), prompt.length - 1);
  if (alignedTokens === null) return shared;
  const within = Math.min(shared, alignedTokens);
  return within - (within % ALIGNED_CHUNK);
}
