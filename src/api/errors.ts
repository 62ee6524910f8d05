import type { ContentfulStatusCode } from "hono/utils/http-status";
import { LimitExceeded } from "../accounting/Limiter.js";
import { EngineError, type EngineErrorCode } from "../engine/errors.js";

/**
 * The one error catalogue. Every error a client can see is an ApiError with an OpenAI-shaped
 * body: {"error":{"message","type","param","code"}}. Types follow OpenAI's
 * (invalid_request_error, authentication_error, …) so the official SDKs raise the right class.
 */
export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "requests"
  | "tokens"
  | "insufficient_quota"
  | "server_error"
  | "service_unavailable";

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly type: ErrorType,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null): ApiError =>
  new ApiError(400, "invalid_request_error", code, message, param);

export const invalidJson = (detail: string): ApiError =>
  new ApiError(400, "invalid_request_error", "invalid_json", `The request body is not valid JSON: ${detail}`);

export const bodyTooLarge = (limit: number): ApiError =>
  new ApiError(
    413,
    "invalid_request_error",
    "request_too_large",
    `The request body is larger than ${limit / 2 ** 20} MiB.`,
  );

export const unauthorized = (message: string): ApiError =>
  new ApiError(401, "authentication_error", "invalid_api_key", message);

export const modelNotFound = (model: string, served: readonly string[]): ApiError =>
  new ApiError(
    404,
    "not_found_error",
    "model_not_found",
    `The model '${model}' does not exist on this server. Served: ${served.join(", ")}.`,
    "model",
  );

export const routeNotFound = (method: string, path: string): ApiError =>
  new ApiError(404, "not_found_error", "unknown_url", `Unknown request URL: ${method} ${path}.`);

export const unsupportedField = (param: string, detail = ""): ApiError =>
  new ApiError(
    400,
    "invalid_request_error",
    "unsupported_parameter",
    `'${param}' is not supported by this server yet${detail ? `: ${detail}` : "."}`,
    param,
  );

export const loading = (): ApiError =>
  new ApiError(503, "service_unavailable", "model_loading", "The model is still loading. Retry shortly.", null, {
    "retry-after": "5",
  });

export const adminRequired = (): ApiError =>
  new ApiError(403, "permission_error", "admin_required", "This endpoint needs an admin key.");

export const keyNotFound = (id: string): ApiError =>
  new ApiError(404, "not_found_error", "key_not_found", `No API key with id '${id}'.`, "id");

/** Requests Node's HTTP parser refused (clientErrors.ts); `parserCode` is Node's, e.g. HPE_INVALID_CONTENT_LENGTH. */
export const malformedHttp = (parserCode: string): ApiError =>
  new ApiError(400, "invalid_request_error", "malformed_http", `The HTTP request could not be parsed (${parserCode}).`);

/**
 * The request outlived --request-timeout-ms: the server's doing, so a 5xx (OpenAI clients retry
 * 408s as the client's own timeout).
 */
export const requestTimeout = (): ApiError =>
  new ApiError(
    504,
    "server_error",
    "request_timeout",
    "The request took longer than this server allows. Retry, or ask for fewer tokens.",
  );

export const internal = (): ApiError =>
  new ApiError(500, "server_error", "internal_error", "The server had an error while processing the request.");

const ENGINE_ERRORS: Record<EngineErrorCode, { status: ContentfulStatusCode; type: ErrorType }> = {
  context_length_exceeded: { status: 400, type: "invalid_request_error" },
  invalid_token: { status: 400, type: "invalid_request_error" },
  queue_full: { status: 429, type: "rate_limit_error" },
  queue_timeout: { status: 503, type: "service_unavailable" },
  engine_closed: { status: 503, type: "service_unavailable" },
  generation_failed: { status: 500, type: "server_error" },
  grammar_unsatisfiable: { status: 400, type: "invalid_request_error" },
  unsupported_schema: { status: 400, type: "invalid_request_error" },
  unsupported_parameter: { status: 400, type: "invalid_request_error" },
  upstream_unavailable: { status: 503, type: "service_unavailable" },
  upstream_failed: { status: 502, type: "server_error" },
};

/** Any thrown value → ApiError. Unknown errors become a 500 that leaks no internals. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof LimitExceeded) {
    const headers = { ...error.headers, "retry-after": String(error.retryAfterS) };
    if (error.kind === "budget") {
      return new ApiError(429, "insufficient_quota", "insufficient_quota", error.message, null, headers);
    }
    const type = error.kind === "tokens" ? "tokens" : "requests";
    return new ApiError(429, type, "rate_limit_exceeded", error.message, null, headers);
  }
  if (error instanceof EngineError) {
    const { status, type } = ENGINE_ERRORS[error.code];
    const headers: Record<string, string> =
      error.retryAfterS !== null ? { "retry-after": String(error.retryAfterS) } : {};
    return new ApiError(status, type, error.code, error.message, error.param, headers);
  }
  return internal();
}
