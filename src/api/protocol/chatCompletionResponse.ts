/** Response wire types, in the provider's shape (OpenAI's plus usage.estimated_cost). */

export type FinishReason = "stop" | "length";

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
    message: { role: "assistant"; content: string; refusal: null };
    finish_reason: FinishReason;
    logprobs: null;
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
    delta: { role?: "assistant"; content?: string };
    finish_reason: FinishReason | null;
    logprobs: null;
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
