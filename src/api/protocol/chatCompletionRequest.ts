import { z } from "zod";
import { samplerExtensionFields } from "./samplerExtensions.js";

/**
 * POST /v1/openai/chat/completions request, with the provider's documented ranges and
 * defaults. Wire names (snake_case), in the provider's order. Unknown fields pass through
 * and are reported back (x-lunaris-ignored-params) rather than rejected, as real clients
 * merge extra settings into the body.
 */

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const imagePart = z
  .object({ type: z.enum(["image_url", "input_image", "image", "input_audio", "file"]) })
  .passthrough();
const contentPart = z.union([textPart, imagePart]);

const content = z.union([z.string(), z.array(contentPart)]);

const wireToolCall = z
  .object({
    id: z.string(),
    type: z.literal("function").optional(),
    function: z.object({ name: z.string(), arguments: z.string() }).passthrough(),
  })
  .passthrough();

const message = z
  .object({
    role: z.enum(["system", "developer", "user", "assistant", "tool"]),
    content: content.nullable().optional(),
    name: z.string().optional(),
    tool_call_id: z.string().optional(),
    tool_calls: z.array(wireToolCall).nullable().optional(),
  })
  .passthrough();

const functionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "function names are 1-64 letters, digits, '_' or '-'");

const tool = z
  .object({
    type: z.literal("function"),
    function: z
      .object({
        name: functionName,
        description: z.string().optional(),
        parameters: z.record(z.unknown()).optional(),
        strict: z.boolean().nullable().optional(),
      })
      .passthrough(),
  })
  .passthrough();

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }).passthrough(),
]);

const responseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }).passthrough(),
  z.object({ type: z.literal("json_object") }).passthrough(),
  z
    .object({
      type: z.literal("json_schema"),
      json_schema: z
        .object({
          name: z.string().optional(),
          description: z.string().optional(),
          schema: z.record(z.unknown()).optional(),
          strict: z.boolean().nullable().optional(),
        })
        .passthrough(),
    })
    .passthrough(),
]);

export type WireMessage = z.infer<typeof message>;
export type WireTool = z.infer<typeof tool>;
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
    tools: z.array(tool).max(128, "at most 128 tools").nullable().optional(),
    tool_choice: toolChoice.nullable().optional(),
    parallel_tool_calls: z.boolean().nullable().optional(),
    response_format: responseFormat.nullable().optional(),
    logprobs: z.boolean().nullable().optional(),
    top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  })
  .passthrough();

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

/** Fields the schema knows; anything else in a body is reported as ignored. */
export const KNOWN_FIELDS = new Set(Object.keys(chatCompletionRequestSchema.shape));
