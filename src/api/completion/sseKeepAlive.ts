import type { SSEStreamingApi } from "hono/streaming";

/**
 * Writes an SSE comment (`: keep-alive`) whenever `idleMs` pass without a write. On a CPU a
 * long prompt can take minutes before its first token, and proxies close a response that sends
 * nothing for a minute (nginx's proxy_read_timeout, load balancers' idle timeouts); comments are
 * ignored by every SSE client, the OpenAI SDKs included. llama-server does the same.
 */
export function sseKeepAlive(stream: SSEStreamingApi, idleMs: number): { touch(): void; stop(): void } {
  let last = performance.now();
  const timer =
    idleMs > 0
      ? setInterval(
          () => {
            if (stream.aborted || stream.closed || performance.now() - last < idleMs) return;
            last = performance.now();
            void stream.write(": keep-alive\n\n");
          },
          Math.max(1, Math.floor(idleMs / 4)),
        )
      : null;
  timer?.unref();
  return {
    touch: () => {
      last = performance.now();
    },
    stop: () => {
      if (timer) clearInterval(timer);
    },
  };
}
