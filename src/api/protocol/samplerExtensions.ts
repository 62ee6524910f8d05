import { z } from "zod";

/**
 * Extensions beyond the provider's documented fields, fenced here: the samplers roleplay
 * front-ends (SillyTavern, Kobold Lite, RisuAI, Agnaistic) send, with llama.cpp's names.
 * Fields no engine path implements (typical_p, mirostat, dynatemp, top_n_sigma, …) are not
 * listed: they are accepted as unknown fields and named in x-lunaris-ignored-params.
 */

/** `[[id, bias|false], …]` (SillyTavern's llama.cpp form) or OpenAI's `{"id": bias}`. */
export const logitBiasSchema = z.union([
  z.record(z.string().regex(/^\d+$/, "logit_bias keys are token ids"), z.number().min(-100).max(100)),
  z.array(z.tuple([z.number().int().min(0), z.union([z.number().min(-100).max(100), z.literal(false)])])),
]);

export const samplerExtensionFields = {
  logit_bias: logitBiasSchema.nullable().optional(),
  dry_multiplier: z.number().min(0).max(100).optional(),
  dry_base: z.number().min(1).max(10).optional(),
  dry_allowed_length: z.number().int().min(0).max(1000).optional(),
  dry_penalty_last_n: z.number().int().min(-1).optional(),
  /** A JSON-encoded array (SillyTavern) or an array of strings. */
  dry_sequence_breakers: z.union([z.string(), z.array(z.string())]).optional(),
  xtc_threshold: z.number().min(0).max(1).optional(),
  xtc_probability: z.number().min(0).max(1).optional(),
  repetition_penalty_range: z.number().int().min(-1).optional(),
  repeat_last_n: z.number().int().min(-1).optional(),
  ignore_eos: z.boolean().optional(),
  min_tokens: z.number().int().min(0).optional(),
  /** Token ids, or strings whose tokens are banned; a string may also list them one per line. */
  banned_tokens: z.union([z.array(z.union([z.number().int().min(0), z.string()])), z.string()]).optional(),
};

export type SamplerExtensions = { [K in keyof typeof samplerExtensionFields]?: z.infer<(typeof samplerExtensionFields)[K]> };
