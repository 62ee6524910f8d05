import { z } from "zod";
import { generationFields } from "./chatCompletionRequest.js";

/**
 * POST /v1/openai/completions (OpenAI's legacy text completions): a pre-formatted prompt,
 * e.g. a Llama 3 prompt with its special tokens written as text, as text-completion
 * front-ends send. echo and logprobs arrive with the logprobs work; until then a clear 400.
 */
export const completionRequestSchema = z
  .object({
    model: z.string().min(1),
    prompt: z.union([z.string(), z.array(z.string()).length(1, "one prompt per request")]),
    ...generationFields,
    echo: z.boolean().optional(),
    logprobs: z.number().int().nullable().optional(),
    suffix: z.string().nullable().optional(),
    best_of: z.number().int().nullable().optional(),
  })
  .passthrough();

export type CompletionRequest = z.infer<typeof completionRequestSchema>;

export const COMPLETION_FIELDS = new Set(Object.keys(completionRequestSchema.shape));

export interface TextCompletionChoice {
  index: number;
  text: string;
  logprobs: null;
  finish_reason: "stop" | "length" | null;
}
