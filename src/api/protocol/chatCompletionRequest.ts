import { z } from "zod";
import { samplerExtensionFields } from "./samplerExtensions.js";

/**
 * POST /v1/openai/chat/completions request, with the provider's documented ranges and
 * defaults. Wire names (snake_case), in the provider's order. Unknown fields pass through
 * and are reported back (x-lunaris-ignored-params) rather than rejected, as real clients
 * merge extra settings into the body.
 */

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const imagePart = z.object({ type: z.enum(["image_url", "input_image", "image", "input_audio", "file"]) }).passthrough();
const contentPart = z.union([textPart, imagePart]);

const content = z.union([z.string(), z.array(contentPart)]);

const message = z
  .object({
    role: z.enum(["system", "developer", "user", "assistant", "tool"]),
    content: content.nullable().optional(),
    name: z.string().optional(),
    tool_call_id: z.string().optional(),
    tool_calls: z.array(z.unknown()).optional(),
  })
  .passthrough();

export type WireMessage = z.infer<typeof message>;
export type WireContent = z.infer<typeof content>;

const stop = z.union([z.string(), z.array(z.string()).max(16, "stop takes at most 16 sequences")]);

/** Generation fields shared by chat and text completions, with the provider's ranges. */
export const generationFields = {
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  min_p: z.number().min(0).max(1).nullable().optional(),
  top_k: z.number().int().min(0).max(999).nullable().optional(),
  max_tokens: z.number().int().min(1).nullable().optional(),
  /** Newer OpenAI clients send this instead of max_tokens. */
  max_completion_tokens: z.number().int().min(1).nullable().optional(),
  stop: stop.nullable().optional(),
  n: z.number().int().min(1).max(4).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  repetition_penalty: z.number().min(0.01).max(5).nullable().optional(),
  user: z.string().nullable().optional(),
  seed: z.number().int().nullable().optional(),
  // ---- extensions (not in the provider's documentation) ----
  ...samplerExtensionFields,
};

export const generationSchema = z.object(generationFields);
export type GenerationFields = z.infer<typeof generationSchema>;

export const chatCompletionRequestSchema = z
  .object({
    model: z.string().min(1),
    messages: z.array(message).min(1, "messages must contain at least one message"),
    ...generationFields,
    tools: z.unknown().optional(),
    tool_choice: z.unknown().optional(),
    response_format: z.unknown().optional(),
    logprobs: z.unknown().optional(),
    top_logprobs: z.unknown().optional(),
  })
  .passthrough();

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

/** Fields the schema knows; anything else in a body is reported as ignored. */
export const KNOWN_FIELDS = new Set(Object.keys(chatCompletionRequestSchema.shape));
