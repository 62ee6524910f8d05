import type { GenerationEvent, GenerationRequest, ModelDescriptor } from "../types.js";

/** The engines a gateway can front (README, "Scaling out"). */
export type UpstreamKind = "lunaris" | "llama-server" | "openai";

export interface UpstreamConfig {
  kind: UpstreamKind;
  /** Base URL: a node's root, llama-server's root, or an OpenAI base URL ending in /v1. */
  url: string;
  /** Relative capacity: load is in-flight requests divided by weight. */
  weight: number;
  /** Bearer token the upstream wants: the cluster secret for nodes, an API key for the others. */
  apiKey?: string | undefined;
  /** Model id to ask an OpenAI-compatible upstream for (default: the first it lists). */
  model?: string | undefined;
}

/**
 * What a request needs beyond plain sampling. A full-fidelity kind has all of them; an
 * OpenAI-compatible server has none it can be trusted with, so a request needing one goes
 * elsewhere, or (when nothing else is up) to it with the fields named as ignored.
 */
export type Feature =
  | "minP"
  | "topK"
  | "repetitionPenalty"
  | "dry"
  | "xtc"
  | "logitBias"
  | "bannedStrings"
  | "minTokens"
  | "ignoreEos"
  | "grammar"
  | "toolsAuto"
  | "logprobs"
  | "promptLogprobs"
  | "tokenPrompt";

/** The wire field each feature comes from, for errors and `x-lunaris-ignored-params`. */
export const FEATURE_PARAMS: Record<Feature, string> = {
  minP: "min_p",
  topK: "top_k",
  repetitionPenalty: "repetition_penalty",
  dry: "dry_multiplier",
  xtc: "xtc_probability",
  logitBias: "logit_bias",
  bannedStrings: "banned_strings",
  minTokens: "min_tokens",
  ignoreEos: "ignore_eos",
  grammar: "response_format",
  toolsAuto: "tool_choice",
  logprobs: "logprobs",
  promptLogprobs: "echo",
  tokenPrompt: "prompt",
};

/** The features a request uses (defaults that change nothing are not uses). */
export function featuresOf(r: GenerationRequest): Feature[] {
  const s = r.sampling;
  const used: Feature[] = [];
  if (s.minP > 0) used.push("minP");
  if (s.topK > 0) used.push("topK");
  if (s.repetitionPenalty !== 1) used.push("repetitionPenalty");
  if (s.dry && s.dry.multiplier > 0) used.push("dry");
  if (s.xtc && s.xtc.probability > 0) used.push("xtc");
  if (s.logitBias && s.logitBias.size > 0) used.push("logitBias");
  if (s.bannedStrings?.length) used.push("bannedStrings");
  if (s.minTokens) used.push("minTokens");
  if (s.ignoreEos) used.push("ignoreEos");
  if (r.format) used.push("grammar");
  if (r.tools) used.push(r.tools.choice.type === "auto" ? "toolsAuto" : "grammar");
  if (r.logprobs) used.push("logprobs");
  if (r.promptLogprobs) used.push("promptLogprobs");
  if (r.prompt.type === "tokens") used.push("tokenPrompt");
  return used;
}

/** What a health probe learned. */
export interface UpstreamProbe {
  model: Partial<ModelDescriptor>;
  /** Requests waiting at the upstream (its own queue), when it says. */
  queueDepth?: number | undefined;
  /** Its parallel sequences, when it says. */
  sequences?: number | undefined;
  /** Chat template and special tokens, when it says (for /props). */
  modelInfo?: { chatTemplate: string | null; bosToken: string; eosToken: string } | undefined;
}

/**
 * Thrown before the first event: `retry` when another upstream may serve the request (refused,
 * timed out, 5xx, 429/503), with `eject` when this one should sit out until its health returns.
 * A request's own fault (4xx) is an EngineError instead and is answered as it is.
 */
export class UpstreamRefused extends Error {
  constructor(
    message: string,
    readonly eject: boolean,
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = "UpstreamRefused";
  }
}

/** One engine behind the gateway, spoken to in its own protocol. */
export interface UpstreamClient {
  readonly config: UpstreamConfig;
  readonly features: ReadonlySet<Feature>;
  /**
   * Streams a generation. Before the first event it fails with UpstreamRefused (try another) or
   * an EngineError (the request's fault); after it, with an EngineError `upstream_failed`.
   */
  generate(request: GenerationRequest, signal: AbortSignal): AsyncIterable<GenerationEvent>;
  /** Health check; throws when the upstream is down. */
  probe(signal: AbortSignal): Promise<UpstreamProbe>;
  tokenize?(text: string, special: boolean, addBos: boolean): Promise<number[]>;
  detokenize?(tokens: readonly number[]): Promise<string>;
}

export const ALL_FEATURES: ReadonlySet<Feature> = new Set(Object.keys(FEATURE_PARAMS) as Feature[]);
