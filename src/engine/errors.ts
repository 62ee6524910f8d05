/**
 * Engine errors: stable codes, no HTTP. `api/errors.ts` maps each code to a status and an
 * OpenAI-shaped body.
 */
export const ENGINE_ERROR_CODES = [
  "context_length_exceeded",
  "invalid_token",
  "queue_full",
  "queue_timeout",
  "engine_closed",
  "generation_failed",
  "grammar_unsatisfiable",
  "unsupported_schema",
  "unsupported_parameter",
  "upstream_unavailable",
  "upstream_failed",
] as const;

export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    /** The request field at fault, when there is one. */
    readonly param: string | null = null,
    /** Seconds a client should wait before retrying (queue errors). */
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = "EngineError";
  }
}

export function contextOverflow(
  limit: number,
  needed: number,
  promptTokens: number,
  param = "messages",
  estimated = false,
): EngineError {
  const at = estimated ? "at least " : "";
  return new EngineError(
    "context_length_exceeded",
    `This model's maximum context length is ${limit} tokens; the request needs ${at}${needed} ` +
      `(${at}${promptTokens} in the ${param === "prompt" ? "prompt" : "messages"}, ${needed - promptTokens} for the completion). ` +
      `Shorten the ${param === "prompt" ? "prompt" : "messages"} or lower max_tokens.`,
    param,
  );
}

/**
 * Any error thrown inside one generation, as that generation's error: it ends that request
 * alone (an error status, or an error event mid-stream), never the process or the other
 * sequences. A grammar that refused every token left after the request's own bans and bias is
 * the request's doing (XTC can no longer cause it: see Generation.open); anything else is ours.
 */
export function generationFailed(cause: unknown): EngineError {
  if (cause instanceof EngineError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const e = /grammar/i.test(detail)
    ? new EngineError(
        "grammar_unsatisfiable",
        "No token satisfies the output format (JSON schema, JSON object or tool call) together with this request's banned tokens and logit_bias.",
        "logit_bias",
      )
    : new EngineError("generation_failed", "The generation failed inside the engine.");
  e.cause = cause;
  return e;
}
