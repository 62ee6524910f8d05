import { type LlamaModel, type SequenceEvaluateOptions, type Token, TokenBias } from "node-llama-cpp";
import type { Utf8Guard } from "../grammar/utf8Guard.js";
import type { SamplingOptions } from "../types.js";

/** The lowest XTC threshold passed to llama.cpp (see samplerOptions). */
const XTC_MIN_THRESHOLD = 1e-6;

/** Neutral penalty values: the penalties sampler is skipped entirely when all are neutral. */
function penaltiesActive(s: SamplingOptions): boolean {
  return s.presencePenalty !== 0 || s.frequencyPenalty !== 0 || s.repetitionPenalty !== 1;
}

/**
 * Our sampling options as node-llama-cpp's evaluate options (grammar and token bias are added by
 * the caller). `punishable` are the generated tokens the penalties look at.
 */
export function samplerOptions(
  s: SamplingOptions,
  o: { punishable: () => readonly Token[]; maxPunishTokens: number; dryWindow: number },
): SequenceEvaluateOptions {
  const options: SequenceEvaluateOptions = {
    temperature: s.temperature,
    topP: s.topP,
    topK: s.topK,
    minP: s.minP,
    seed: s.seed,
    yieldEogToken: true,
  };
  if (penaltiesActive(s)) {
    const window = s.penaltyLastN;
    options.repeatPenalty = {
      punishTokens: () => {
        const generated = o.punishable() as Token[];
        return window === undefined ? generated : window <= 0 ? [] : generated.slice(-window);
      },
      maxPunishTokens: o.maxPunishTokens,
      penalty: s.repetitionPenalty,
      frequencyPenalty: s.frequencyPenalty,
      presencePenalty: s.presencePenalty,
    };
  }
  // XTC keeps the least likely of the tokens at or above its threshold. At 0 that is every
  // candidate, so the one kept was one the grammar or a ban had set to -inf (p = 0): the grammar
  // then refused the sampled token and the process died (a hostile-client finding). A threshold
  // just above 0 never reaches a removed token.
  if (s.xtc) options.xtc = { probability: s.xtc.probability, threshold: Math.max(s.xtc.threshold, XTC_MIN_THRESHOLD) };
  if (s.dry && s.dry.multiplier > 0) {
    options.dryRepeatPenalty = {
      strength: s.dry.multiplier,
      base: s.dry.base,
      allowedLength: s.dry.allowedLength,
      // "Whole history" as null/-1 disables DRY in this node-llama-cpp build (measured: no
      // effect at all); the sequence's own length bound says the same thing and works.
      // llama.cpp allocates 8 bytes per token of the window on the JS thread (5e8 froze the
      // server 6 s and took 3.8 GiB): the caller caps it at the context.
      lastTokens: o.dryWindow,
      sequenceBreakers: [...s.dry.sequenceBreakers],
    };
  }
  return options;
}

/**
 * node-llama-cpp's `TokenBias.set()` silently skips end-of-generation tokens, so biases go into
 * its private map directly (docs/engine.md, "Token bias"): the only way to ban or boost <|eot_id|>. The one
 * reach into node-llama-cpp's internals, named here.
 */
function privateBiasMap(b: TokenBias): Map<Token, number> {
  return (b as unknown as { _biases: Map<Token, number> })._biases;
}

/**
 * logit_bias, banned tokens, ignore_eos and min_tokens as a per-token bias function, or null
 * when none applies. Under a grammar the end of generation belongs to the grammar, so it is
 * never suppressed, and the UTF-8 guard's bans are added before each token.
 */
export function tokenBiasFor(
  model: LlamaModel,
  s: SamplingOptions,
  o: { grammar: boolean; guard: Utf8Guard | null; eogTokens: readonly number[]; generated: () => readonly Token[] },
): (() => TokenBias) | null {
  const make = (banned: readonly number[] = []) => {
    const b = new TokenBias(model.tokenizer);
    const map = privateBiasMap(b);
    for (const [token, logit] of s.logitBias ?? []) map.set(token as Token, logit);
    for (const t of banned) map.set(t as Token, Number.NEGATIVE_INFINITY);
    return b;
  };
  const guard = o.guard;
  if (guard) {
    const built = new Map<number, TokenBias>();
    return () => {
      const { state, banned } = guard.next(o.generated() as Token[]);
      let b = built.get(state);
      if (!b) built.set(state, (b = make(banned)));
      return b;
    };
  }
  const suppressEog = !o.grammar && (s.ignoreEos === true || (s.minTokens ?? 0) > 0);
  if (!suppressEog && (s.logitBias?.size ?? 0) === 0) return null;
  const normal = make();
  if (!suppressEog) return () => normal;
  const noEog = make(o.eogTokens);
  return () => (s.ignoreEos === true || o.generated().length < (s.minTokens ?? 0) ? noEog : normal);
}
