import { EngineError } from "../errors.js";
import type { GenerationEvent, GenerationRequest } from "../types.js";
import { brokeOff, readLines, refusalOf, streamPost } from "./http.js";
import { HttpUpstream } from "./HttpUpstream.js";
import { NODE_PATHS, type NodeInfo, decodeEvent, encodeRequest } from "./nodeProtocol.js";
import { ALL_FEATURES, type UpstreamClient, type UpstreamProbe, UpstreamRefused } from "./upstream.js";

/**
 * Another Lunaris node (`lunaris serve --role engine`): the same engine code behind the engine
 * protocol (nodeProtocol.ts), so everything behaves as in process: template, tools, grammars,
 * stops, seeds, logprobs, DRY/XTC, cached tokens.
 */
export class LunarisNodeClient extends HttpUpstream implements UpstreamClient {
  readonly features = ALL_FEATURES;

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
    const info = await this.call<NodeInfo>(NODE_PATHS.info, undefined, signal);
    return {
      model: info.model,
      queueDepth: info.stats.queueDepth,
      sequences: info.stats.totalSequences,
      modelInfo: info.modelInfo ?? undefined,
    };
  }

  async tokenize(text: string, special: boolean, addBos: boolean): Promise<number[]> {
    return (
      await this.call<{ tokens: number[] }>(NODE_PATHS.tokenize, { text, special, addBos }, AbortSignal.timeout(30_000))
    ).tokens;
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    return (await this.call<{ text: string }>(NODE_PATHS.detokenize, { tokens }, AbortSignal.timeout(30_000))).text;
  }
}
