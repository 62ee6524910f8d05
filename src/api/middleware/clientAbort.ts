import type { ServerResponse } from "node:http";
import type { Context } from "hono";

/**
 * Aborts when the client goes away before the response is complete, or when the request
 * outlives its timeout. Node's ServerResponse 'close' is the reliable signal for both a
 * streaming and a waiting non-streaming client.
 */
export function clientAbortSignal(c: Context, timeoutMs: number): AbortSignal {
  const controller = new AbortController();
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  outgoing?.once("close", () => {
    if (!outgoing.writableFinished) controller.abort(new Error("client disconnected"));
  });
  return AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]);
}
