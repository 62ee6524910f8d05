/**
 * Engine errors: stable codes, no HTTP. `api/errors.ts` maps each code to a status and an
 * OpenAI-shaped body.
 */
export type EngineErrorCode =
  | "context_length_exceeded"
  | "invalid_token"
  | "queue_full"
  | "queue_timeout"
  | "request_timeout"
  | "engine_closed"
  | "generation_failed"
  | "unsupported_schema";

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

export function contextOverflow(limit: number, needed: number, promptTokens: number, param = "messages", estimated = false): EngineError {
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
 * alone (a 500, or an error event mid-stream), never the process or the other sequences.
 */
export function generationFailed(cause: unknown): EngineError {
  if (cause instanceof EngineError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const e = new EngineError(
    "generation_failed",
    /grammar/i.test(detail)
      ? "Sampling failed: no token satisfies the output grammar together with this request's bans, bias and samplers."
      : "The generation failed inside the engine.",
  );
  e.cause = cause;
  return e;
}
