/** Response wire types, in the provider's shape (OpenAI's plus usage.estimated_cost). */

export type FinishReason = "stop" | "length" | "tool_calls";

/** One sampled token in OpenAI's logprobs format. */
export interface WireTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export interface ChoiceLogprobs {
  content: WireTokenLogprob[] | null;
  refusal: null;
}

export interface WireToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A streamed piece of a tool call: id, type and name come first, then argument fragments. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function: { name?: string; arguments: string };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** USD, prompt × input price + completion × output price. */
  estimated_cost: number;
  prompt_tokens_details: { cached_tokens: number };
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: "assistant"; content: string | null; refusal: null; tool_calls?: WireToolCall[] };
    finish_reason: FinishReason;
    logprobs: ChoiceLogprobs | null;
  }[];
  usage: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string | null; tool_calls?: ToolCallDelta[] };
    finish_reason: FinishReason | null;
    logprobs: ChoiceLogprobs | null;
  }[];
  usage?: Usage | null;
}

export interface ModelObject {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  context_length: number;
  max_tokens: number;
  pricing: { input_tokens: number; output_tokens: number; unit: "USD per 1M tokens" };
  metadata: Record<string, unknown>;
}
