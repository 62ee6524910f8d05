import { z } from "zod";

/**
 * Extensions beyond the provider's documented fields, fenced here: the samplers roleplay
 * front-ends (SillyTavern, Kobold Lite, RisuAI, Agnaistic) send, with llama.cpp's names.
 * Fields no engine path implements (typical_p, mirostat, dynatemp, top_n_sigma, …) are not
 * listed: they are accepted as unknown fields and named in x-lunaris-ignored-params.
 */

/**
 * Field limits. Each bounds the work one request can make the server do on its JS thread:
 * before them a 2 MB banned_tokens string or 200k logit_bias entries each held the server for
 * 30–150 s, and every DRY breaker costs a pass over the 128k-token vocabulary (13–22 ms) when a
 * choice's sampler is built, on the JS thread (16 breakers: ~300 ms a choice on a 2-core VM).
 * Front-ends send a handful (SillyTavern: four breakers).
 */
export const LIMITS = {
  /** OpenAI's own limit for logit_bias. */
  logitBias: 300,
  /** Bans: token ids or strings, in banned_tokens, custom_token_bans or llama.cpp's logit_bias list. */
  bannedTokens: 1024,
  bannedStringChars: 256,
  dryBreakers: 8,
  dryBreakerChars: 32,
} as const;

/** `[[id, bias|false], …]` (SillyTavern's llama.cpp form) or OpenAI's `{"id": bias}`. */
export const logitBiasSchema = z.union([
  z
    .record(z.string().regex(/^\d+$/, "logit_bias keys are token ids"), z.number().min(-100).max(100))
    .refine((r) => Object.keys(r).length <= LIMITS.logitBias, `logit_bias takes at most ${LIMITS.logitBias} tokens`),
  z
    .array(z.tuple([z.number().int().min(0), z.union([z.number().min(-100).max(100), z.literal(false)])]))
    .max(LIMITS.bannedTokens, `logit_bias takes at most ${LIMITS.bannedTokens} entries`),
]);

const breaker = z
  .string()
  .max(LIMITS.dryBreakerChars, `a DRY sequence breaker is at most ${LIMITS.dryBreakerChars} characters`);
const bannedString = z
  .string()
  .max(LIMITS.bannedStringChars, `a banned string is at most ${LIMITS.bannedStringChars} characters`);

export const samplerExtensionFields = {
  logit_bias: logitBiasSchema.nullable().optional(),
  dry_multiplier: z.number().min(0).max(100).optional(),
  dry_base: z.number().min(1).max(10).optional(),
  dry_allowed_length: z.number().int().min(0).max(1000).optional(),
  /** -1 = the whole context; larger values are clamped to the context by the engine. */
  dry_penalty_last_n: z.number().int().min(-1).optional(),
  /** A JSON-encoded array (SillyTavern) or an array of strings. */
  dry_sequence_breakers: z
    .union([
      z.string().max(LIMITS.dryBreakers * (LIMITS.dryBreakerChars + 8)),
      z.array(breaker).max(LIMITS.dryBreakers, `at most ${LIMITS.dryBreakers} DRY sequence breakers`),
    ])
    .optional(),
  xtc_threshold: z.number().min(0).max(1).optional(),
  xtc_probability: z.number().min(0).max(1).optional(),
  repetition_penalty_range: z.number().int().min(-1).optional(),
  repeat_last_n: z.number().int().min(-1).optional(),
  ignore_eos: z.boolean().optional(),
  min_tokens: z.number().int().min(0).optional(),
  /** repetition_penalty under llama.cpp's and KoboldCpp's names (Text Gen WebUI / KoboldCpp front-end types send them). */
  repeat_penalty: z.number().min(0.01).max(5).optional(),
  rep_pen: z.number().min(0.01).max(5).optional(),
  /** SillyTavern's ban list: comma-separated token ids ("" = none). */
  custom_token_bans: z
    .string()
    .max(LIMITS.bannedTokens * 8)
    .regex(/^\s*(\d+\s*(,\s*\d+\s*)*)?,?\s*$/, "custom_token_bans is a comma-separated list of token ids")
    .optional(),
  /** Token ids, or strings whose tokens are banned; a string may also list them one per line. */
  banned_tokens: z
    .union([
      z
        .array(z.union([z.number().int().min(0), bannedString]))
        .max(LIMITS.bannedTokens, `at most ${LIMITS.bannedTokens} banned tokens`),
      z.string().max(LIMITS.bannedTokens * 16, "banned_tokens is too long"),
    ])
    .optional(),
};

export type SamplerExtensions = {
  [K in keyof typeof samplerExtensionFields]?: z.infer<(typeof samplerExtensionFields)[K]>;
};
