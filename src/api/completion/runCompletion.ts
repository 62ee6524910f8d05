import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { requestTimeout, toApiError } from "../errors.js";
import { RequestTimedOut } from "../middleware/clientAbort.js";
import { setHeader } from "../nodeHttp.js";
import { toUsage } from "../translate/toChatCompletion.js";
import { requestFinisher } from "./finish.js";
import { CompletionFold } from "./fold.js";
import type { CompletionRun } from "./outcome.js";
import { streamCompletion } from "./sse.js";

/**
 * Runs a generation for an HTTP request: waits for its first event (so queue, context and
 * upstream errors keep their status), then answers with JSON or SSE. Exactly one ledger row,
 * one metrics observation and one log summary per request, whichever way it ends (finish.ts).
 */
export async function runCompletion(c: Context<AppEnv>, deps: ApiDeps, run: CompletionRun): Promise<Response> {
  const startedAt = deps.accounting.now();
  const t0 = performance.now();
  const gen = run.generation;
  const events = deps.engine().generate(gen)[Symbol.asyncIterator]();
  const first = await events.next();
  if (first.done || first.value.type !== "start") throw toApiError(new Error("generation ended before it started"));
  const start = first.value;
  // An upstream that could not honour some fields (an OpenAI-compatible server without our extensions).
  if (start.ignoredParams?.length) setHeader(c, "x-lunaris-ignored-params", start.ignoredParams.join(","), true);
  const fold = new CompletionFold(start, gen.choices, gen.logprobs !== undefined, run.format);
  const finish = requestFinisher(c, deps, run, fold, startedAt, t0);
  if (run.stream) return streamCompletion(c, deps, run, start, fold, events, finish);

  try {
    for (let r = await events.next(); !r.done; r = await events.next()) fold.apply(r.value);
  } catch (e) {
    const status = toApiError(e).status;
    if (status >= 500)
      deps.log.error({ err: e, cause: (e as Error).cause, req_id: c.get("requestId") }, "generation failed");
    await finish(status);
    throw e;
  }
  if (gen.signal?.aborted) {
    // Timed out: a 504 the client reads. Gone: 499 in the ledger, and nobody to answer.
    const timedOut = gen.signal.reason instanceof RequestTimedOut;
    await finish(timedOut ? 504 : 499);
    if (timedOut) throw requestTimeout();
    return new Response(null, { status: 499 });
  }
  await finish(200);
  return c.json(run.format.body(fold.choices, toUsage(fold.outcome(), deps.prices), start));
}
