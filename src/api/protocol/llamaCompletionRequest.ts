import { z } from "zod";
import { samplerExtensionFields } from "./samplerExtensions.js";

/**
 * POST /completion: llama.cpp's native text completion (llama-server), which SillyTavern's
 * "llama.cpp" Text Completion type and other llama.cpp front-ends call. llama.cpp's field
 * names and its defaults for absent fields (temperature 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * repeat_last_n 64): a client written for llama-server gets what it expects. Ranges are
 * llama.cpp's, bounded where a value would only cost work.
 */
export const LLAMA_DEFAULTS = {
  temperature: 0.8,
  top_k: 40,
  top_p: 0.95,
  min_p: 0.05,
  repeat_penalty: 1,
  repeat_last_n: 64,
} as const;

const tokenOrText = z.union([z.number().int().min(0), z.string()]);

export const llamaCompletionRequestSchema = z
  .object({
    prompt: z.union([z.string(), z.array(tokenOrText).min(1, "a token-id prompt needs at least one token")]),
    /** Tokens to generate; -1 = until the context is full. */
    n_predict: z.number().int().min(-1).optional(),
    stream: z.boolean().optional(),
    temperature: z.number().min(0).max(5).optional(),
    top_k: z.number().int().min(0).max(128_256).optional(),
    top_p: z.number().min(0).max(1).optional(),
    min_p: z.number().min(0).max(1).optional(),
    presence_penalty: z.number().min(-2).max(2).optional(),
    frequency_penalty: z.number().min(-2).max(2).optional(),
    /** -1 (llama.cpp's default) = a random seed. */
    seed: z.number().int().optional(),
    stop: z.array(z.string()).max(16, "stop takes at most 16 sequences").optional(),
    /** Alternatives per generated token in completion_probabilities (0 = none). */
    n_probs: z.number().int().min(0).max(20).optional(),
    json_schema: z.record(z.unknown()).nullable().optional(),
    /** Raw GBNF. Only the empty string (what SillyTavern sends when none is set) is accepted. */
    grammar: z.string().optional(),
    /** The sampler chain llama.cpp builds, in order; see toLlamaSampling for what this engine honours. */
    samplers: z.array(z.string()).max(32).optional(),
    cache_prompt: z.boolean().optional(),
    ...samplerExtensionFields,
  })
  .passthrough();

export type LlamaCompletionRequest = z.infer<typeof llamaCompletionRequestSchema>;

export const LLAMA_COMPLETION_FIELDS = new Set(Object.keys(llamaCompletionRequestSchema.shape));
