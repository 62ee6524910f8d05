import type { GenerationRequest, PromptInput, SamplingOptions, TokenLogprob } from "../../engine/types.js";
import { invalidRequest, unsupportedField } from "../errors.js";
import type { GenerationFields } from "../protocol/chatCompletionRequest.js";
import { LLAMA_DEFAULTS, type LlamaCompletionRequest } from "../protocol/llamaCompletionRequest.js";
import type { FinishReason, Usage } from "../protocol/chatCompletionResponse.js";
import { type SamplingDefaults, toSampling } from "./toGenerationRequest.js";

/** The samplers this engine runs, in the one order its chain applies them (llama.cpp's default order). */
const CHAIN = ["penalties", "dry", "top_k", "top_p", "min_p", "xtc", "temperature"] as const;
type ChainSampler = (typeof CHAIN)[number];

/**
 * llama.cpp's `samplers` list → what the engine can do with it. A sampler left out of the
 * list is off, as in llama.cpp. The chain's order is fixed here, so a list that orders the
 * known samplers differently, and samplers this engine lacks (typ_p, top_n_sigma, …), are
 * named as ignored.
 */
export function applySamplerList(
  list: readonly string[] | undefined,
  s: SamplingOptions,
): { sampling: SamplingOptions; ignored: string[] } {
  if (list === undefined) return { sampling: s, ignored: [] };
  const known = list.filter((x): x is ChainSampler => (CHAIN as readonly string[]).includes(x));
  const ignored = list.filter((x) => !(CHAIN as readonly string[]).includes(x)).map((x) => `samplers:${x}`);
  const inChainOrder = CHAIN.filter((x) => known.includes(x));
  if (known.some((x, i) => x !== inChainOrder[i])) ignored.push("samplers:order");
  const on = new Set<string>(known);
  const out: SamplingOptions = { ...s };
  if (!on.has("penalties")) Object.assign(out, { presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 });
  if (!on.has("dry")) out.dry = undefined;
  if (!on.has("top_k")) out.topK = 0;
  if (!on.has("top_p")) out.topP = 1;
  if (!on.has("min_p")) out.minP = 0;
  if (!on.has("xtc")) out.xtc = undefined;
  if (!on.has("temperature") && out.temperature > 0) out.temperature = 1;
  return { sampling: out, ignored };
}

function toPrompt(p: LlamaCompletionRequest["prompt"]): PromptInput {
  if (typeof p === "string") return { type: "text", text: p };
  if (p.every((t): t is number => typeof t === "number")) return { type: "tokens", tokens: p };
  if (p.length === 1 && typeof p[0] === "string") return { type: "text", text: p[0] };
  throw unsupportedField("prompt", "a prompt mixing text and token ids; send text or token ids.");
}

/** A /completion request → the engine's request; the ignored fields go into x-lunaris-ignored-params. */
export function toLlamaGeneration(
  r: LlamaCompletionRequest,
  modelId: string,
  signal: AbortSignal,
): { generation: GenerationRequest; ignored: string[] } {
  if (r.grammar !== undefined && r.grammar.trim() !== "") {
    throw unsupportedField("grammar", "raw GBNF is not accepted on this server; send json_schema.");
  }
  if (r.n_predict === 0)
    throw invalidRequest("n_predict 0 generates nothing; use -1 (until the context is full) or a count.", "n_predict");
  const fields = {
    ...r,
    repetition_penalty: r.repetition_penalty ?? r.repeat_penalty ?? r.rep_pen,
    repeat_last_n: r.repeat_last_n ?? LLAMA_DEFAULTS.repeat_last_n,
    // llama.cpp's -1 (and any negative seed) means "random".
    seed: r.seed === undefined || r.seed < 0 ? undefined : r.seed,
  } as unknown as GenerationFields;
  const defaults: SamplingDefaults = {
    temperature: LLAMA_DEFAULTS.temperature,
    top_k: LLAMA_DEFAULTS.top_k,
    top_p: LLAMA_DEFAULTS.top_p,
    min_p: LLAMA_DEFAULTS.min_p,
  };
  const { sampling, ignored } = applySamplerList(r.samplers, toSampling(fields, defaults));
  return {
    generation: {
      model: modelId,
      prompt: toPrompt(r.prompt),
      maxTokens: r.n_predict === undefined || r.n_predict < 0 ? undefined : r.n_predict,
      stopSequences: (r.stop ?? []).filter((s) => s !== ""),
      choices: 1,
      sampling,
      format: r.json_schema ? { type: "jsonSchema", schema: r.json_schema } : undefined,
      logprobs: r.n_probs ? { top: r.n_probs } : undefined,
      reproducible: r.seed !== undefined && r.seed >= 0,
      signal,
    },
    ignored,
  };
}

/** llama-server's per-token probabilities (its current format: logprobs, with bytes). */
export function toCompletionProbabilities(entries: readonly TokenLogprob[]) {
  return entries.map((e) => ({
    id: e.token,
    token: e.text,
    bytes: e.bytes,
    logprob: e.logprob,
    top_logprobs: e.top.map((t) => ({ id: t.token, token: t.text, bytes: t.bytes, logprob: t.logprob })),
  }));
}

/** llama-server's timings object, from what the HTTP layer saw. */
export function toTimings(promptTokens: number, promptMs: number, predicted: number, predictedMs: number) {
  const perToken = (ms: number, n: number) => (n > 0 ? ms / n : 0);
  const perSecond = (ms: number, n: number) => (ms > 0 ? (1000 * n) / ms : 0);
  return {
    prompt_n: promptTokens,
    prompt_ms: promptMs,
    prompt_per_token_ms: perToken(promptMs, promptTokens),
    prompt_per_second: perSecond(promptMs, promptTokens),
    predicted_n: predicted,
    predicted_ms: predictedMs,
    predicted_per_token_ms: perToken(predictedMs, predicted),
    predicted_per_second: perSecond(predictedMs, predicted),
  };
}

/** finish_reason → llama-server's stop_type. */
export function toStopType(reason: FinishReason | null): "eos" | "limit" {
  return reason === "length" ? "limit" : "eos";
}

export type { Usage };
