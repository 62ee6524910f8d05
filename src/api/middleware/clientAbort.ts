import type { Context } from "hono";
import { nodeResponse } from "../nodeHttp.js";

/**
 * Aborts when the client goes away before the response is complete, or when the request
 * outlives its timeout. Node's ServerResponse 'close' is the reliable signal for both a
 * streaming and a waiting non-streaming client. One controller and one timer, cleared when
 * the response ends (AbortSignal.timeout/any would keep every request's graph alive until
 * the timeout fires).
 */
/** The abort reason when a request outlives its timeout (a client that left aborts with another). */
export class RequestTimedOut extends Error {}

export function clientAbortSignal(c: Context, timeoutMs: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new RequestTimedOut("request timed out")), timeoutMs);
  timer.unref();
  const outgoing = nodeResponse(c);
  outgoing?.once("close", () => {
    clearTimeout(timer);
    if (!outgoing.writableFinished) controller.abort(new Error("client disconnected"));
  });
  return controller.signal;
}
