import { authHeaders, refusalOf, upstreamFetch } from "./http.js";
import type { UpstreamConfig } from "./upstream.js";

/** What every upstream client shares: its base URL, its auth header, JSON calls answered with JSON. */
export abstract class HttpUpstream {
  protected readonly headers: Record<string, string>;

  constructor(readonly config: UpstreamConfig) {
    this.headers = { "content-type": "application/json", ...authHeaders(config.apiKey) };
  }

  protected url(path: string): string {
    return `${this.config.url.replace(/\/+$/, "")}${path}`;
  }

  /** GET (no body) or POST a JSON body; a non-2xx answer throws what refusalOf makes of it. */
  protected async call<T>(path: string, body: unknown, signal: AbortSignal): Promise<T> {
    const url = this.url(path);
    const init = body === undefined ? {} : { method: "POST", body: JSON.stringify(body) };
    const res = await upstreamFetch(url, { ...init, headers: this.headers, signal });
    if (!res.ok) throw await refusalOf(url, res);
    return (await res.json()) as T;
  }
}
