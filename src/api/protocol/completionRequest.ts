import { z } from "zod";
import { generationFields } from "./chatCompletionRequest.js";

/**
 * POST /v1/openai/completions (OpenAI's legacy text completions): a pre-formatted prompt,
 * e.g. a Llama 3 prompt with its special tokens written as text, as text-completion
 * front-ends send, or token ids. `logprobs` is an integer here (alternatives per token) and
 * `echo` returns the prompt before the completion (with its logprobs when asked).
 */
const tokenIds = z.array(z.number().int().min(0)).min(1, "a token-id prompt needs at least one token");
export const completionRequestSchema = z
  .object({
    model: z.string().min(1),
    prompt: z.union([
      z.string(),
      z.array(z.string()).length(1, "one prompt per request"),
      tokenIds,
      z.array(tokenIds).length(1, "one prompt per request"),
    ]),
    ...generationFields,
    echo: z.boolean().nullable().optional(),
    logprobs: z.number().int().min(0).max(20).nullable().optional(),
    suffix: z.string().nullable().optional(),
    best_of: z.number().int().nullable().optional(),
  })
  .passthrough();

export type CompletionRequest = z.infer<typeof completionRequestSchema>;

export const COMPLETION_FIELDS = new Set(Object.keys(completionRequestSchema.shape));

/** The legacy completions logprobs: parallel arrays, one entry per token. */
export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

export interface TextCompletionChoice {
  index: number;
  text: string;
  logprobs: LegacyLogprobs | null;
  finish_reason: "stop" | "length" | null;
}
