import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { GenerationEvent, GenerationRequest, TokenLogprob, ToolCall } from "../../engine/types.js";
import type { ApiDeps, AppEnv } from "../deps.js";
import { requestTimeout, toApiError } from "../errors.js";
import { RequestTimedOut } from "../middleware/clientAbort.js";
import { setHeader } from "../nodeHttp.js";
import { sseKeepAlive } from "../sseKeepAlive.js";
import type { FinishReason, Usage } from "../protocol/chatCompletionResponse.js";
import { toFinishReason, toUsage } from "../translate/toChatCompletion.js";

export type StartEvent = Extract<GenerationEvent, { type: "start" }>;

/** The outcome of one request, for the usage ledger and the log. */
export interface CompletionOutcome {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  finishReason: string;
}

export interface ChoiceState {
  text: string;
  finishReason: FinishReason | null;
  completionTokens: number;
  toolCalls: ToolCall[];
  /** Null unless logprobs were asked for. */
  logprobs: TokenLogprob[] | null;
}

/** How one endpoint (chat or text completions) shapes its responses. */
export interface CompletionFormat {
  id: string;
  /** Chunks sent before any content (chat: the role delta; text: an echoed prompt). */
  opening(index: number, start: StartEvent): unknown | null;
  content(index: number, text: string, logprobs: readonly TokenLogprob[] | undefined): unknown;
  /** Chat only: a tool call's id and name, then fragments of its arguments. */
  toolCall?(index: number, callIndex: number, id: string, name: string): unknown;
  toolArguments?(index: number, callIndex: number, text: string): unknown;
  finish(index: number, reason: FinishReason, usage: Usage | undefined): unknown;
  usageOnly(usage: Usage): unknown;
  body(choices: readonly ChoiceState[], usage: Usage, start: StartEvent): unknown;
  /** Whether a stream ends with `data: [DONE]` (OpenAI's endpoints; llama.cpp's native one does not). */
  doneMarker?: boolean;
}

export interface CompletionRun {
  generation: GenerationRequest;
  stream: boolean;
  includeUsage: boolean;
  user: string | null;
  format: CompletionFormat;
}

/**
 * Runs a generation for an HTTP request: waits for a sequence (so queue and context errors
 * keep their status), then answers with JSON or SSE. Exactly one ledger row, one metrics
 * observation and one log summary per request, whichever way it ends; the ledger row is
 * committed before the response's last byte (the final JSON, or the chunk carrying usage).
 */
export async function runCompletion(c: Context<AppEnv>, deps: ApiDeps, run: CompletionRun): Promise<Response> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const { generation: gen, format } = run;
  const events = deps.engine().generate(gen)[Symbol.asyncIterator]();
  const first = await events.next();
  if (first.done || first.value.type !== "start") throw toApiError(new Error("generation ended before it started"));
  const start = first.value;
  // An upstream that could not honour some fields (an OpenAI-compatible server without our extensions).
  if (start.ignoredParams?.length) setHeader(c, "x-lunaris-ignored-params", start.ignoredParams.join(","), true);
  const n = gen.choices;
  const choices: ChoiceState[] = Array.from({ length: n }, () => ({
    text: "",
    finishReason: null,
    completionTokens: 0,
    toolCalls: [],
    logprobs: gen.logprobs ? [] : null,
  }));
  let firstAt: number | null = null;
  let lastAt = 0;
  const gaps: number[] = [];

  // A remote engine may report the prompt's counts only with `end`.
  const counts = { prompt: start.promptTokens ?? 0, cached: start.cachedTokens ?? 0 };
  const outcome = (): CompletionOutcome => ({
    promptTokens: counts.prompt,
    cachedTokens: counts.cached,
    completionTokens: choices.reduce((a, ch) => a + ch.completionTokens, 0),
    finishReason: choices.map((ch) => ch.finishReason ?? "aborted").join(","),
  });
  const usage = () => toUsage(outcome(), deps.prices);
  const tick = () => {
    const now = performance.now();
    if (firstAt === null) firstAt = now;
    else gaps.push(now - lastAt);
    lastAt = now;
  };
  /** Folds an event into the choice states; returns the chunk to stream, if any. */
  const apply = (ev: GenerationEvent): { chunk: unknown; finish?: FinishReason } | null => {
    const ch = ev.type === "start" ? undefined : choices[ev.choice];
    if (!ch) return null;
    switch (ev.type) {
      case "text":
        tick();
        if (ev.tokens !== undefined) ch.completionTokens = ev.tokens;
        ch.text += ev.text;
        if (ev.logprobs) ch.logprobs?.push(...ev.logprobs);
        return ev.text !== "" || (ev.logprobs?.length ?? 0) > 0 ? { chunk: format.content(ev.choice, ev.text, ev.logprobs) } : null;
      case "toolCall":
        tick();
        if (ev.tokens !== undefined) ch.completionTokens = ev.tokens;
        ch.toolCalls[ev.index] = { id: ev.id, name: ev.name, arguments: "" };
        return { chunk: format.toolCall?.(ev.choice, ev.index, ev.id, ev.name) };
      case "toolArguments": {
        tick();
        if (ev.tokens !== undefined) ch.completionTokens = ev.tokens;
        const call = ch.toolCalls[ev.index];
        if (call) call.arguments += ev.text;
        return { chunk: format.toolArguments?.(ev.choice, ev.index, ev.text) };
      }
      case "end":
        if (ev.promptTokens !== undefined) counts.prompt = ev.promptTokens;
        if (ev.cachedTokens !== undefined) counts.cached = ev.cachedTokens;
        if (ev.reason === "aborted") return null;
        ch.completionTokens = ev.completionTokens;
        ch.finishReason = toFinishReason(ev.reason);
        return { chunk: null, finish: ch.finishReason };
      default:
        return null;
    }
  };
  let recorded = false;
  const record = async (status: number): Promise<void> => {
    if (recorded) return;
    recorded = true;
    const o = outcome();
    c.set("logFields", {
      model: gen.model,
      prompt_tokens: o.promptTokens,
      cached_tokens: o.cachedTokens,
      completion_tokens: o.completionTokens,
      finish_reason: o.finishReason,
      completion_id: format.id,
      ...(deps.logPrompts ? { prompt: gen.prompt, completions: choices.map((ch) => ch.text) } : {}),
    });
    deps.metrics.observeCompletion({ ...o, ttftMs: firstAt === null ? null : firstAt - t0, itlMs: gaps, e2eMs: performance.now() - t0 });
    await deps.recordUsage({ requestId: format.id, user: run.user, outcome: o, status, principal: c.get("principal") ?? null, startedAt });
  };

  if (!run.stream) {
    try {
      for (let r = await events.next(); !r.done; r = await events.next()) apply(r.value);
    } catch (e) {
      const status = toApiError(e).status;
      if (status >= 500) deps.log.error({ err: e, cause: (e as Error).cause, req_id: c.get("requestId") }, "generation failed");
      await record(status);
      throw e;
    }
    if (gen.signal?.aborted) {
      // Timed out: a 504 the client reads. Gone: 499 in the ledger, and nobody to answer.
      const timedOut = gen.signal.reason instanceof RequestTimedOut;
      await record(timedOut ? 504 : 499);
      if (timedOut) throw requestTimeout();
      return new Response(null, { status: 499 });
    }
    await record(200);
    return c.json(format.body(choices, usage(), start));
  }

  return streamSSE(c, async (stream) => {
    const keepAlive = sseKeepAlive(stream, deps.sseKeepAliveMs);
    const send = (data: unknown) => {
      keepAlive.touch();
      return stream.writeSSE({ data: JSON.stringify(data) });
    };
    let finished = 0;
    try {
      for (let i = 0; i < n; i++) {
        const opening = format.opening(i, start);
        if (opening !== null) await send(opening);
      }
      for (let r = await events.next(); !r.done; r = await events.next()) {
        const d = apply(r.value);
        if (!d) continue;
        if (d.chunk !== null && d.chunk !== undefined) await send(d.chunk);
        if (d.finish && r.value.type === "end") {
          const choice = r.value.choice;
          finished++;
          // The provider puts usage on the last finishing chunk; with include_usage OpenAI sends a separate one.
          const last = finished === n && !run.includeUsage;
          if (last) await record(200);
          await send(format.finish(choice, d.finish, last ? usage() : undefined));
        }
      }
      if (run.includeUsage && finished === n) {
        await record(200);
        await send(format.usageOnly(usage()));
      }
      if (finished < n) await record(499);
    } catch (e) {
      const err = toApiError(e);
      if (err.status >= 500) deps.log.error({ err: e, cause: (e as Error).cause, req_id: c.get("requestId") }, "generation failed");
      await record(err.status);
      // Mid-stream errors as `data: {"error":…}`: the SDKs and SillyTavern raise them as errors.
      await send(err.toBody());
    } finally {
      keepAlive.stop();
    }
    if (format.doneMarker !== false) await stream.writeSSE({ data: "[DONE]" });
  });
}
