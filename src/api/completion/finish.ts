import type { Context } from "hono";
import { costPicoUsd } from "../../accounting/pricing.js";
import type { ApiDeps, AppEnv } from "../deps.js";
import type { CompletionFold } from "./fold.js";
import type { CompletionRun } from "./outcome.js";

/**
 * The one step that ends a request, whichever way it ends: its log fields, one metrics
 * observation and one ledger row (through deps.accounting), once. The runner awaits it before
 * the response's last byte (the final JSON, or the chunk carrying usage).
 */
export function requestFinisher(
  c: Context<AppEnv>,
  deps: ApiDeps,
  run: CompletionRun,
  fold: CompletionFold,
  startedAt: number,
  t0: number,
) {
  let done = false;
  return async (status: number): Promise<void> => {
    if (done) return;
    done = true;
    const o = fold.outcome();
    const gen = run.generation;
    c.set("logFields", {
      model: gen.model,
      prompt_tokens: o.promptTokens,
      cached_tokens: o.cachedTokens,
      completion_tokens: o.completionTokens,
      finish_reason: o.finishReason,
      completion_id: run.format.id,
      ...(deps.logPrompts ? { prompt: gen.prompt, completions: fold.choices.map((ch) => ch.text) } : {}),
    });
    const first = fold.firstContentAt;
    deps.metrics.observeCompletion({
      ...o,
      ttftMs: first === null ? null : first - t0,
      itlMs: fold.gaps,
      e2eMs: performance.now() - t0,
    });
    const now = deps.accounting.now();
    await deps.accounting.record({
      requestId: run.format.id,
      keyId: c.get("principal")?.keyId ?? null,
      user: run.user,
      model: gen.model,
      promptTokens: o.promptTokens,
      cachedTokens: o.cachedTokens,
      completionTokens: o.completionTokens,
      costPico: costPicoUsd(o.promptTokens, o.completionTokens, deps.prices),
      finishReason: o.finishReason,
      status,
      latencyMs: now - startedAt,
      createdAt: now,
    });
  };
}

export type Finish = ReturnType<typeof requestFinisher>;
