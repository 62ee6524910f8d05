import type { Logger } from "pino";
import type { Accounting } from "../accounting/Accounting.js";
import type { Prices } from "../accounting/pricing.js";
import type { Principal } from "../accounting/types.js";
import type { Engine } from "../engine/types.js";
import type { Metrics } from "../observability/metrics.js";
import type { ModelObject } from "./protocol/chatCompletionResponse.js";
import type { SamplingDefaults } from "./translate/toGenerationRequest.js";

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
  /** Idle time after which a stream gets an SSE comment (0: never). */
  sseKeepAliveMs: number;
  /** Keys, limits, and the ledger every request writes one row to (completion/finish.ts). */
  accounting: Accounting;
  /** Origins allowed to call the API from a browser; ["*"] for any. */
  corsOrigins: readonly string[];
  /** The operator's sampling defaults for absent fields (the provider's otherwise). */
  samplingDefaults: SamplingDefaults;
  metrics: Metrics;
  /** Log prompts and completions (debug only; off by default). */
  logPrompts: boolean;
}

export type AppEnv = {
  Variables: { principal: Principal | null; requestId: string; logFields: Record<string, unknown> };
};
