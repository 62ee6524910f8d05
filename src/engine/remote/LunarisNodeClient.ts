import { EngineError } from "../errors.js";
import type { GenerationEvent, GenerationRequest } from "../types.js";
import { authHeaders, brokeOff, readLines, refusalOf, streamPost, upstreamFetch } from "./http.js";
import { NODE_PATHS, type NodeInfo, decodeEvent, encodeRequest } from "./nodeProtocol.js";
import {
  ALL_FEATURES,
  type UpstreamClient,
  type UpstreamConfig,
  type UpstreamProbe,
  UpstreamRefused,
} from "./upstream.js";

/**
 * Another Lunaris node (`lunaris serve --role engine`): the same engine code behind the engine
 * protocol (nodeProtocol.ts), so everything behaves as in process: template, tools, grammars,
 * stops, seeds, logprobs, DRY/XTC, cached tokens.
 */
export class LunarisNodeClient implements UpstreamClient {
  readonly features = ALL_FEATURES;
  private readonly headers: Record<string, string>;

  constructor(readonly config: UpstreamConfig) {
    this.headers = { "content-type": "application/json", ...authHeaders(config.apiKey) };
  }

  private url(path: string): string {
    return `${this.config.url.replace(/\/+$/, "")}${path}`;
  }

  async *generate(request: GenerationRequest, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    const url = this.url(NODE_PATHS.generate);
    const res = await streamPost(url, this.headers, encodeRequest(request), signal);
    if (res.status !== 200) throw await refusalOf(url, res);
    let started = false;
    let ended = 0;
    try {
      for await (const line of readLines(res.body)) {
        const ev = decodeEvent(line);
        if (ev.type === "error") throw new EngineError(ev.code, ev.message, ev.param);
        started = true;
        if (ev.type === "end") ended++;
        yield ev;
      }
    } catch (e) {
      if (signal.aborted || e instanceof EngineError) throw e;
      throw started ? brokeOff(this.config.url, e) : new UpstreamRefused(`${url}: ${(e as Error).message}`, true);
    }
    if (signal.aborted) return;
    if (!started) throw new UpstreamRefused(`${url}: empty answer`, true);
    if (ended < request.choices)
      throw brokeOff(this.config.url, new Error(`${ended} of ${request.choices} choices ended`));
  }

  async probe(signal: AbortSignal): Promise<UpstreamProbe> {
    const url = this.url(NODE_PATHS.info);
    const res = await upstreamFetch(url, { headers: this.headers, signal });
    if (!res.ok) throw await refusalOf(url, res);
    const info = (await res.json()) as NodeInfo;
    return {
      model: info.model,
      queueDepth: info.stats.queueDepth,
      sequences: info.stats.totalSequences,
      modelInfo: info.modelInfo ?? undefined,
    };
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    const url = this.url(path);
    const res = await upstreamFetch(url, {
      method: "POST",
      headers: this.headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw await refusalOf(url, res);
    return (await res.json()) as T;
  }

  async tokenize(text: string, special: boolean, addBos: boolean): Promise<number[]> {
    return (await this.post<{ tokens: number[] }>(NODE_PATHS.tokenize, { text, special, addBos })).tokens;
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    return (await this.post<{ text: string }>(NODE_PATHS.detokenize, { tokens })).text;
  }
}
