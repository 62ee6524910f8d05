import type { PromptTokenLogprob } from "../../engine/types.js";
import type { LegacyLogprobs } from "../protocol/completionRequest.js";

/**
 * Engine logprobs → the legacy completions format (parallel arrays), continuing at
 * `offset` characters into the choice's text. A null entry is a token with no logprob
 * (the prompt's first token under `echo`).
 */
export function toLegacyLogprobs(entries: readonly PromptTokenLogprob[], offset: number): LegacyLogprobs {
  const out: LegacyLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const e of entries) {
    out.tokens.push(e.text);
    out.token_logprobs.push(e.logprob);
    out.top_logprobs.push(e.logprob === null ? null : Object.fromEntries(e.top.map((t) => [t.text, t.logprob])));
    out.text_offset.push(at);
    at += e.text.length;
  }
  return out;
}

export function concatLegacyLogprobs(a: LegacyLogprobs, b: LegacyLogprobs): LegacyLogprobs {
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
  };
}
