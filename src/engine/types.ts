/**
 * Engine domain types. camelCase, no HTTP and no OpenAI wire names: the API layer translates.
 * The in-process engine (engine/llama/) implements `Engine`; a remote backend (another Lunaris
 * node, llama-server, an OpenAI-compatible server) can implement it with these same types:
 * everything is asynchronous, grammars are compiled and banned strings resolved behind it, and
 * token counts may arrive late (with `end`).
 */

export type ChatRole = "system" | "user" | "assistant" | "tool";

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** Calls an assistant turn made (rendered back into the prompt in the model's tool format). */
  toolCalls?: readonly ToolCall[] | undefined;
}

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as JSON text, exactly as generated. */
  arguments: string;
}

export interface ToolSpec {
  name: string;
  description?: string | undefined;
  /** JSON Schema of the arguments object. */
  parameters: unknown;
}

/** `auto`: the model decides; `required`: at least one call; `function`: exactly this one. */
export type ToolChoice = { type: "auto" } | { type: "required" } | { type: "function"; name: string };

export interface ToolsRequest {
  tools: readonly ToolSpec[];
  choice: ToolChoice;
  /** Several calls in one reply. */
  parallel: boolean;
}

/** Constrains the reply's text: any JSON object, or JSON valid against a schema. */
export type OutputFormat = { type: "jsonObject" } | { type: "jsonSchema"; schema: unknown };

/** A sampled token's log-probability, and the most likely alternatives at its position. */
export interface TokenLogprob {
  token: number;
  text: string;
  bytes: readonly number[];
  logprob: number;
  top: readonly { token: number; text: string; bytes: readonly number[]; logprob: number }[];
}

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** 0 = disabled. */
  topK: number;
  minP: number;
  /** uint32; the API layer draws a random one when the client sends none. */
  seed: number;
  /** OpenAI semantics, over the generated tokens. */
  presencePenalty: number;
  frequencyPenalty: number;
  /** Multiplicative (CTRL/HF style), 1 = off, over the generated tokens. */
  repetitionPenalty: number;
  /** How many of the last generated tokens the penalties see; undefined = all of them. */
  penaltyLastN?: number | undefined;
  /** DRY ("don't repeat yourself") penalty. */
  dry?: DryOptions | undefined;
  /** XTC: with `probability`, remove the top tokens above `threshold` except the least likely of them. */
  xtc?: { probability: number; threshold: number } | undefined;
  /** Token id → logit added; -Infinity bans the token (also end-of-generation tokens). */
  logitBias?: ReadonlyMap<number, number> | undefined;
  /** Strings whose tokens are banned (the engine tokenizes them with its own tokenizer). */
  bannedStrings?: readonly string[] | undefined;
  /** Never stop at an end-of-generation token. */
  ignoreEos?: boolean | undefined;
  /** No end-of-generation token before this many tokens. */
  minTokens?: number | undefined;
}

export interface DryOptions {
  multiplier: number;
  base: number;
  allowedLength: number;
  /** Tokens looked back over; undefined = the whole sequence. */
  lastN: number | undefined;
  sequenceBreakers: readonly string[];
}

/** What to generate from: a chat rendered with the model's template, or raw text (special tokens written as text). */
export type PromptInput =
  | { type: "chat"; messages: readonly ChatMessage[] }
  | { type: "text"; text: string }
  | { type: "tokens"; tokens: readonly number[] };

export interface GenerationRequest {
  /** Served model id (catalogue id or alias). */
  model: string;
  prompt: PromptInput;
  /** Undefined: whatever is left of the context. */
  maxTokens: number | undefined;
  stopSequences: readonly string[];
  /** Parallel choices (OpenAI `n`); choice i samples with seed + i. */
  choices: number;
  sampling: SamplingOptions;
  /** Tools the model may call; absent = plain text replies. */
  tools?: ToolsRequest | undefined;
  format?: OutputFormat | undefined;
  /** Log-probabilities of the sampled tokens, with `top` alternatives each (0–20). */
  logprobs?: { top: number } | undefined;
  /**
   * The client chose the seed: read the prompt so that a cached prompt gives the same text as a
   * fresh one (aligned chunks; cache reused at chunk boundaries only).
   */
  reproducible?: boolean | undefined;
  /** Log-probabilities of the prompt's tokens too (text completions' `echo`); costs a full evaluation of the prompt. */
  promptLogprobs?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Why a choice stopped. `stopSequence` and `endOfGeneration` both become OpenAI "stop";
 * `maxTokens` and `contextFull` become "length".
 */
export type StopReason = "endOfGeneration" | "stopSequence" | "maxTokens" | "contextFull" | "toolCalls" | "aborted";

/**
 * A generation's events. Tool calls stream as `toolCall` (id and name first) followed by
 * `toolArguments` fragments whose concatenation is the call's JSON arguments.
 */
export type GenerationEvent =
  | {
      type: "start";
      /** Known at once in process; a remote engine may report them only with `end`. */
      promptTokens?: number | undefined;
      cachedTokens?: number | undefined;
      /**
       * With `promptLogprobs`: one entry per token of the caller's prompt (a BOS the engine added
       * is left out); the very first token of the sequence has no context, so its logprob is null.
       */
      promptLogprobs?: readonly PromptTokenLogprob[] | undefined;
      /** Request fields the engine behind could not honour and ignored (an OpenAI-compatible upstream). */
      ignoredParams?: readonly string[] | undefined;
    }
  | { type: "text"; choice: number; text: string; logprobs?: readonly TokenLogprob[] | undefined; tokens?: Generated }
  | { type: "toolCall"; choice: number; index: number; id: string; name: string; tokens?: Generated }
  | { type: "toolArguments"; choice: number; index: number; text: string; tokens?: Generated }
  | {
      type: "end";
      choice: number;
      reason: StopReason;
      completionTokens: number;
      /** The request's prompt counts, when `start` did not carry them. */
      promptTokens?: number | undefined;
      cachedTokens?: number | undefined;
    };

/**
 * Completion tokens the choice has generated so far, when the engine knows: what a reply cut
 * short (an upstream that died mid-stream) is billed for.
 */
type Generated = number | undefined;

export type PromptTokenLogprob = Omit<TokenLogprob, "logprob"> & { logprob: number | null };

export interface ModelDescriptor {
  /** Served id, e.g. "Sao10K/L3-8B-Lunaris-v1". */
  id: string;
  aliases: readonly string[];
  contextLength: number;
  /** What actually runs: file name, quantization, backend. */
  file: string;
  quantization: string;
  demo: boolean;
}

export interface EngineStats {
  queueDepth: number;
  activeSequences: number;
  totalSequences: number;
  /** Prompt prefixes kept after their sequence moved on, and their state's size. */
  storedPrefixes: number;
  storedPrefixBytes: number;
}

/** One engine behind a gateway, as its admin endpoint and metrics show it. */
export interface UpstreamStatus {
  url: string;
  kind: string;
  weight: number;
  healthy: boolean;
  /** Requests this gateway has running there now. */
  inFlight: number;
  /** Requests waiting in the upstream's own queue, from its last health check. */
  queueDepth: number | null;
  requests: number;
  errors: number;
  /** Requests routed there because it held part of the prompt. */
  prefixHits: number;
  lastError: string | null;
  /** When it was last ejected (ms since epoch); null if never. */
  ejectedAt: number | null;
}

/** What the HTTP layer needs from a model backend, local or remote. */
export interface Engine {
  readonly model: ModelDescriptor;
  /**
   * Runs a generation. Fails before the first event for requests that cannot start: context
   * overflow, full queue, queue timeout, an output format it cannot enforce (`unsupported_schema`,
   * param `format.schema` or `tools[i].parameters`). The first event is always `start`.
   */
  generate(request: GenerationRequest): AsyncIterable<GenerationEvent>;
  /** Text → token ids; with `special`, special tokens written as text become control tokens; `addBos` prepends the model's BOS. */
  tokenize(text: string, special: boolean, addBos?: boolean): Promise<number[]>;
  /** Token ids → text, special tokens included. */
  detokenize(tokens: readonly number[]): Promise<string>;
  /** The model's chat template and special tokens, for /props (engines that know them). */
  modelInfo?(): Promise<{ chatTemplate: string | null; bosToken: string; eosToken: string }>;
  stats(): EngineStats;
  /** A gateway's upstream engines (engine/remote/FleetEngine); absent in process. */
  upstreams?(): UpstreamStatus[];
  close(): Promise<void>;
}
