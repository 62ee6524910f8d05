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
  | "engine_closed";

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

export function contextOverflow(limit: number, needed: number, promptTokens: number): EngineError {
  return new EngineError(
    "context_length_exceeded",
    `This model's maximum context length is ${limit} tokens; the request needs ${needed} ` +
      `(${promptTokens} in the messages, ${needed - promptTokens} for the completion). ` +
      "Shorten the messages or lower max_tokens.",
    "messages",
  );
}
