import type { Logger } from "pino";
import type { Prices } from "../accounting/pricing.js";
import type { Engine } from "../engine/types.js";
import type { ChatCompletionRequest } from "./protocol/chatCompletionRequest.js";
import type { ModelObject } from "./protocol/chatCompletionResponse.js";
import type { CompletionOutcome } from "./routes/chatCompletions.js";

export interface UsageEvent {
  request: ChatCompletionRequest;
  outcome: CompletionOutcome;
  /** HTTP status the client saw; 499 when it went away first. */
  status: number;
  keyId: string | null;
}

/** Everything the HTTP layer needs, injected by the CLI (and by tests). */
export interface ApiDeps {
  /** The loaded engine; throws a 503 ApiError while the model loads. */
  engine(): Engine;
  isReady(): boolean;
  /** Requested model id → served id; throws a 404 ApiError for unknown models. */
  resolveModel(requested: string): string;
  models(): ModelObject[];
  prices: Prices;
  log: Logger;
  requestTimeoutMs: number;
  /** Checks a bearer token; null when the request may not proceed. */
  authenticate(token: string | null): { keyId: string | null } | null;
  recordUsage(event: UsageEvent): Promise<void>;
}

export type AppEnv = { Variables: { keyId: string | null; requestId: string } };
