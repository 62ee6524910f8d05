import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "hono";

/** Node's request and response under @hono/node-server; undefined for in-process requests (`app.request` in tests). */
export function nodeRequest(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

export function nodeResponse(c: Context): ServerResponse | undefined {
  return (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
}

/**
 * A request header, from Node's parsed headers when there are some: hono's `c.req.header()`
 * makes @hono/node-server build a WHATWG `Headers` of every header the client sent, on the
 * first call of each request.
 */
export function requestHeader(c: Context, name: Lowercase<string>): string | undefined {
  const req = nodeRequest(c);
  if (!req) return c.req.header(name);
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/**
 * Sets a header on whatever response the request ends with (the route's, an error's, a stream's).
 * Under Node it goes straight onto the ServerResponse, which merges it into the adapter's
 * `writeHead`: hono's `c.header()` builds a WHATWG `Headers` for the request, which the
 * adapter then copies back into a plain object (validated, sorted): with four headers a
 * request, one of the costs that made the HTTP path ~2 ms slower than the engine alone.
 */
export function setHeader(c: Context, name: string, value: string, append = false): void {
  const res = nodeResponse(c);
  if (!res) c.header(name, value, { append });
  else if (append) res.appendHeader(name, value);
  else res.setHeader(name, value);
}
