import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { GenerationEvent } from "../../engine/types.js";
import type { ApiDeps, AppEnv } from "../deps.js";
import { ApiError, toApiError } from "../errors.js";
import { clientAbortSignal } from "../middleware/clientAbort.js";
import { readJsonBody } from "../middleware/readJsonBody.js";
import { type ChatCompletionRequest, KNOWN_FIELDS, chatCompletionRequestSchema } from "../protocol/chatCompletionRequest.js";
import type { ChatCompletion, FinishReason } from "../protocol/chatCompletionResponse.js";
import { parseWith } from "../protocol/parseWith.js";
import { ChunkFactory, newCompletionId, toFinishReason, toUsage } from "../translate/toChatCompletion.js";
import { toGenerationRequest } from "../translate/toGenerationRequest.js";

interface ChoiceState {
  text: string;
  finishReason: FinishReason | null;
  completionTokens: number;
}

/** The outcome of one request, for the usage ledger and the log. */
export interface CompletionOutcome {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  finishReason: string;
}

export function chatCompletionsHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const startedAt = Date.now();
    const engine = deps.engine();
    const body = await readJsonBody(c);
    const req: ChatCompletionRequest = parseWith(chatCompletionRequestSchema, body);
    const modelId = deps.resolveModel(req.model);
    const ignored = Object.keys(body as object).filter((k) => !KNOWN_FIELDS.has(k));
    if (ignored.length > 0) {
      c.header("x-lunaris-ignored-params", ignored.join(","));
      deps.log.info({ ignored }, "ignored request fields");
    }
    const signal = clientAbortSignal(c, deps.requestTimeoutMs);
    const events = engine.generate(toGenerationRequest(req, modelId, signal))[Symbol.asyncIterator]();
    // Wait until the request holds a sequence: queue and context errors still get a real status.
    const first = await events.next();
    if (first.done || first.value.type !== "start") throw toApiError(new Error("generation ended before it started"));
    const start = first.value;
    const n = req.n ?? 1;
    const choices: ChoiceState[] = Array.from({ length: n }, () => ({ text: "", finishReason: null, completionTokens: 0 }));
    const outcome = (): CompletionOutcome => ({
      promptTokens: start.promptTokens,
      cachedTokens: start.cachedTokens,
      completionTokens: choices.reduce((a, ch) => a + ch.completionTokens, 0),
      finishReason: choices.map((ch) => ch.finishReason ?? "aborted").join(","),
    });
    const apply = (ev: GenerationEvent): { choice: number; text?: string; finish?: FinishReason } | null => {
      if (ev.type === "text") {
        onContent();
        const ch = choices[ev.choice];
        if (ch) ch.text += ev.text;
        return { choice: ev.choice, text: ev.text };
      }
      if (ev.type === "end") {
        const ch = choices[ev.choice];
        if (!ch || ev.reason === "aborted") return null;
        ch.completionTokens = ev.completionTokens;
        ch.finishReason = toFinishReason(ev.reason);
        return { choice: ev.choice, finish: ch.finishReason };
      }
      return null;
    };
    const usage = () => {
      const o = outcome();
      return toUsage(o, deps.prices);
    };
    const id = newCompletionId();
    // Timing for metrics: first content, then the gaps between content deltas.
    let firstAt: number | null = null;
    let lastAt = 0;
    const gaps: number[] = [];
    const onContent = () => {
      const now = performance.now();
      if (firstAt === null) firstAt = now;
      else gaps.push(now - lastAt);
      lastAt = now;
    };
    const t0 = performance.now();
    // Exactly one ledger row, one metrics observation and one log summary per request, whichever path ends it.
    let recorded = false;
    const record = async (status: number): Promise<void> => {
      if (recorded) return;
      recorded = true;
      const o = outcome();
      c.set("logFields", {
        model: modelId,
        prompt_tokens: o.promptTokens,
        cached_tokens: o.cachedTokens,
        completion_tokens: o.completionTokens,
        finish_reason: o.finishReason,
        completion_id: id,
        ...(deps.logPrompts ? { messages: req.messages, completions: choices.map((ch) => ch.text) } : {}),
      });
      deps.metrics.observeCompletion({ ...o, ttftMs: firstAt === null ? null : firstAt - t0, itlMs: gaps, e2eMs: performance.now() - t0 });
      await deps.recordUsage({ requestId: id, request: req, outcome: o, status, principal: c.get("principal") ?? null, startedAt });
    };

    if (req.stream !== true) {
      try {
        for (let r = await events.next(); !r.done; r = await events.next()) apply(r.value);
      } catch (e) {
        await record(toApiError(e).status);
        throw e;
      }
      if (signal.aborted) {
        await record(499);
        throw new ApiError(408, "invalid_request_error", "request_timeout", "The request was cancelled or timed out.");
      }
      const response: ChatCompletion = {
        id,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: req.model,
        choices: choices.map((ch, index) => ({
          index,
          message: { role: "assistant", content: ch.text, refusal: null },
          finish_reason: ch.finishReason ?? "stop",
          logprobs: null,
        })),
        usage: usage(),
      };
      // The ledger row is written before the response leaves: a crash never loses a delivered response's record.
      await record(200);
      return c.json(response);
    }

    const chunks = new ChunkFactory(id, req.model);
    const includeUsage = req.stream_options?.include_usage === true;
    return streamSSE(c, async (stream) => {
      const send = (data: unknown) => stream.writeSSE({ data: JSON.stringify(data) });
      let finished = 0;
      try {
        for (let i = 0; i < n; i++) await send(chunks.role(i));
        for (let r = await events.next(); !r.done; r = await events.next()) {
          const d = apply(r.value);
          if (!d) continue;
          if (d.text !== undefined && d.text !== "") await send(chunks.content(d.choice, d.text));
          if (d.finish) {
            finished++;
            // The provider puts usage on the last finishing chunk; with include_usage OpenAI sends a separate one.
            const last = finished === n && !includeUsage;
            if (last) await record(200);
            await send(chunks.finish(d.choice, d.finish, last ? usage() : undefined));
          }
        }
        if (includeUsage && finished === n) {
          await record(200);
          await send(chunks.usage(usage()));
        }
        if (finished < n) await record(499);
      } catch (e) {
        const err = toApiError(e);
        await record(err.status);
        await send(err.toBody());
      }
      await stream.writeSSE({ data: "[DONE]" });
    });
  };
}
