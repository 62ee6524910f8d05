import type { DryOptions, SamplingOptions } from "../../engine/types.js";
import { invalidRequest } from "../errors.js";
import { LIMITS, type SamplerExtensions } from "../protocol/samplerExtensions.js";

/** llama.cpp's defaults for DRY when a client sends only the multiplier. */
const DRY_DEFAULTS = { base: 1.75, allowedLength: 2, sequenceBreakers: ["\n", ":", '"', "*"] };

function dryBreakers(v: string | string[] | undefined): string[] {
  if (v === undefined) return DRY_DEFAULTS.sequenceBreakers;
  let list: unknown = v;
  if (typeof v === "string") {
    try {
      list = JSON.parse(v);
    } catch {
      list = null;
    }
  }
  if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
    throw invalidRequest(
      "dry_sequence_breakers must be an array of strings or a JSON-encoded one.",
      "dry_sequence_breakers",
    );
  }
  if (list.length > LIMITS.dryBreakers || list.some((b: string) => b.length > LIMITS.dryBreakerChars)) {
    throw invalidRequest(
      `dry_sequence_breakers takes at most ${LIMITS.dryBreakers} breakers of at most ${LIMITS.dryBreakerChars} characters.`,
      "dry_sequence_breakers",
    );
  }
  return list;
}

/** The extension samplers → engine options (banned strings go to the engine, which tokenizes them). */
export function toSamplerExtensions(r: SamplerExtensions): Partial<SamplingOptions> {
  const out: Partial<SamplingOptions> = {};
  const bias = new Map<number, number>();
  if (Array.isArray(r.logit_bias)) {
    for (const [id, v] of r.logit_bias) bias.set(id, v === false || v <= -100 ? Number.NEGATIVE_INFINITY : v);
  } else if (r.logit_bias) {
    for (const [id, v] of Object.entries(r.logit_bias)) bias.set(Number(id), v <= -100 ? Number.NEGATIVE_INFINITY : v);
  }
  const banned: (string | number)[] =
    typeof r.banned_tokens === "string"
      ? r.banned_tokens.split("\n").filter((s) => s !== "")
      : [...(r.banned_tokens ?? [])];
  for (const id of (r.custom_token_bans ?? "").split(",")) if (id.trim() !== "") banned.push(Number(id));
  if (
    banned.length > LIMITS.bannedTokens ||
    banned.some((b) => typeof b === "string" && b.length > LIMITS.bannedStringChars)
  ) {
    throw invalidRequest(
      `banned_tokens takes at most ${LIMITS.bannedTokens} entries of at most ${LIMITS.bannedStringChars} characters.`,
      "banned_tokens",
    );
  }
  const bannedStrings: string[] = [];
  for (const b of banned) {
    if (typeof b === "number") bias.set(b, Number.NEGATIVE_INFINITY);
    else bannedStrings.push(b);
  }
  if (bias.size > 0) out.logitBias = bias;
  if (bannedStrings.length > 0) out.bannedStrings = bannedStrings;
  if (r.dry_multiplier !== undefined && r.dry_multiplier > 0) {
    const dry: DryOptions = {
      multiplier: r.dry_multiplier,
      base: r.dry_base ?? DRY_DEFAULTS.base,
      allowedLength: r.dry_allowed_length ?? DRY_DEFAULTS.allowedLength,
      lastN: r.dry_penalty_last_n === undefined || r.dry_penalty_last_n === -1 ? undefined : r.dry_penalty_last_n,
      sequenceBreakers: dryBreakers(r.dry_sequence_breakers),
    };
    out.dry = dry;
  }
  if (r.xtc_probability !== undefined && r.xtc_probability > 0) {
    out.xtc = { probability: r.xtc_probability, threshold: r.xtc_threshold ?? 0.1 };
  }
  const range = r.repetition_penalty_range ?? r.repeat_last_n;
  if (range !== undefined && range !== -1) out.penaltyLastN = range;
  if (r.ignore_eos === true) out.ignoreEos = true;
  if (r.min_tokens !== undefined && r.min_tokens > 0) out.minTokens = r.min_tokens;
  return out;
}
