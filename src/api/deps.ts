import type { Logger } from "pino";
import type { Accounting } from "../accounting/Accounting.js";
import type { Prices } from "../accounting/pricing.js";
import type { Principal } from "../accounting/types.js";
import type { Engine } from "../engine/types.js";
import type { Metrics } from "../observability/metrics.js";
import type { ChatCompletionRequest } from "./protocol/chatCompletionRequest.js";
import type { ModelObject } from "./protocol/chatCompletionResponse.js";
import type { CompletionOutcome } from "./routes/chatCompletions.js";

export interface UsageEvent {
  /** The completion id the client sees (chatcmpl-…). */
  requestId: string;
  request: ChatCompletionRequest;
  outcome: CompletionOutcome;
  /** HTTP status the client saw; 499 when it went away first. */
  status: number;
  principal: Principal | null;
  startedAt: number;
}

/** Everything the HTTP layer needs, injected by the server composition (and by tests). */
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
  accounting: Accounting;
  metrics: Metrics;
  /** Log prompts and completions (debug only; off by default). */
  logPrompts: boolean;
  /** Writes the ledger row; awaited before a response's last byte. */
  recordUsage(event: UsageEvent): Promise<void>;
}

export type AppEnv = {
  Variables: { principal: Principal | null; requestId: string; logFields: Record<string, unknown> };
};
