import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { GenerationEvent } from "../../engine/types.js";
import type { ApiDeps, AppEnv } from "../deps.js";
import { toApiError } from "../errors.js";
import { toUsage } from "../translate/toChatCompletion.js";
import type { Finish } from "./finish.js";
import type { CompletionFold } from "./fold.js";
import type { CompletionRun, StartEvent } from "./outcome.js";
import { sseKeepAlive } from "./sseKeepAlive.js";

/**
 * A completion as SSE: the openings, a chunk per event, each choice's finish chunk, usage (on
 * the last finish chunk, or alone with include_usage), then `data: [DONE]`. A mid-stream error
 * is a `data: {"error":…}` event before [DONE]: the SDKs and SillyTavern raise it as an error.
 * Comments keep the stream alive through long silences.
 */
export function streamCompletion(
  c: Context<AppEnv>,
  deps: ApiDeps,
  run: CompletionRun,
  start: StartEvent,
  fold: CompletionFold,
  events: AsyncIterator<GenerationEvent>,
  finish: Finish,
): Response {
  const { format } = run;
  const n = run.generation.choices;
  const usage = () => toUsage(fold.outcome(), deps.prices);
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
        const e = fold.apply(r.value);
        if (!e) continue;
        if (e.chunk !== null && e.chunk !== undefined) await send(e.chunk);
        if (!e.finish) continue;
        finished++;
        // The provider puts usage on the last finishing chunk; with include_usage OpenAI sends a separate one.
        const last = finished === n && !run.includeUsage;
        if (last) await finish(200);
        await send(format.finish(e.finish.choice, e.finish.reason, last ? usage() : undefined));
      }
      if (run.includeUsage && finished === n) {
        await finish(200);
        await send(format.usageOnly(usage()));
      }
      if (finished < n) await finish(499);
    } catch (e) {
      const err = toApiError(e);
      if (err.status >= 500)
        deps.log.error({ err: e, cause: (e as Error).cause, req_id: c.get("requestId") }, "generation failed");
      await finish(err.status);
      await send(err.toBody());
    } finally {
      keepAlive.stop();
    }
    if (format.doneMarker !== false) await stream.writeSSE({ data: "[DONE]" });
  });
}
