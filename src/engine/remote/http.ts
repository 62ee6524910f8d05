import http from "node:http";
import https from "node:https";
import { readSseData } from "../../client/readSse.js";
import { EngineError } from "../errors.js";
import { isEngineErrorCode } from "./nodeProtocol.js";
import { UpstreamRefused } from "./upstream.js";

/** Longest wait for an upstream's response headers (its queue and prefill count against it). */
const HEADERS_TIMEOUT_MS = 120_000;

/**
 * fetch, with every way of not answering turned into UpstreamRefused (another upstream may
 * serve the request). The caller's signal aborts it; a refused or reset connection ejects.
 */
export async function upstreamFetch(url: string, init: RequestInit & { signal: AbortSignal }): Promise<Response> {
  const timeout = AbortSignal.timeout(HEADERS_TIMEOUT_MS);
  try {
    return await fetch(url, { ...init, signal: AbortSignal.any([init.signal, timeout]) });
  } catch (e) {
    if (init.signal.aborted) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new UpstreamRefused(`${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, true);
  }
}

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/** What `streamPost` answers: the status, a header reader and the body's chunks. */
export interface StreamedResponse {
  status: number;
  header(name: string): string | null;
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
}

/**
 * A POST whose answer streams, on Node's own HTTP client with kept-alive connections: per
 * request it costs a fraction of fetch's (no WHATWG Request, Headers and stream objects), which
 * is most of what a gateway adds in front of a node. Failures to connect are UpstreamRefused.
 */
export function streamPost(
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<StreamedResponse> {
  const u = new URL(url);
  const lib = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      {
        method: "POST",
        agent: u.protocol === "https:" ? agents.https : agents.http,
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
        signal,
      },
      (res) => {
        const text = async () => {
          const parts: Buffer[] = [];
          for await (const part of res) parts.push(part as Buffer);
          return Buffer.concat(parts).toString("utf8");
        };
        resolve({
          status: res.statusCode ?? 0,
          header: (name) => {
            const v = res.headers[name.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
          },
          body: res,
          text,
        });
      },
    );
    req.setTimeout(HEADERS_TIMEOUT_MS, () => req.destroy(new Error("no answer in time")));
    req.once("error", (e: NodeJS.ErrnoException) => {
      if (signal.aborted) reject(e);
      else reject(new UpstreamRefused(`${url}: ${e.code ?? e.message}`, true));
    });
    req.end(body);
  });
}

/**
 * A non-2xx answer before any event: a request's own fault (4xx) becomes the EngineError the
 * client gets; the upstream's trouble (5xx, 429, 401/403 from a wrong secret) is UpstreamRefused.
 */
export async function refusalOf(url: string, res: Response | StreamedResponse): Promise<Error> {
  const text = await res.text().catch(() => "");
  let body: { error?: { code?: unknown; message?: unknown; param?: unknown } | string; message?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: the status says enough
  }
  const err = typeof body.error === "object" ? body.error : undefined;
  const message = String(
    err?.message ??
      (typeof body.error === "string" ? body.error : undefined) ??
      body.message ??
      (text.slice(0, 200) || `HTTP ${res.status}`),
  );
  const retryAfter = Number("header" in res ? res.header("retry-after") : res.headers.get("retry-after"));
  if (res.status === 429 || res.status >= 500 || res.status === 401 || res.status === 403 || res.status === 404) {
    // 429: busy, not broken; everything else sits out until its health check passes.
    return new UpstreamRefused(
      `${url}: ${res.status} ${message}`,
      res.status !== 429,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
    );
  }
  const code = isEngineErrorCode(err?.code) ? err.code : "unsupported_parameter";
  const param = typeof err?.param === "string" ? err.param : null;
  return new EngineError(code, message, param);
}

/** The lines of an NDJSON body. */
export async function* readLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const part of body) {
    rest += decoder.decode(part, { stream: true });
    let nl = rest.indexOf("\n");
    while (nl !== -1) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line.trim() !== "") yield line;
      nl = rest.indexOf("\n");
    }
  }
  if (rest.trim() !== "") yield rest;
}

/** A mid-stream failure: the request ends with an error event, billed for what was delivered. */
export function brokeOff(url: string, cause: unknown): EngineError {
  if (cause instanceof EngineError) return cause;
  const e = new EngineError("upstream_failed", `The upstream engine stopped answering mid-stream (${url}).`);
  e.cause = cause;
  return e;
}

export function authHeaders(apiKey: string | undefined): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

export { readSseData };
