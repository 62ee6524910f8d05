import { type Llama3Specials, renderLlama3Pieces } from "../chatPrompt.js";
import { EngineError, contextOverflow } from "../errors.js";
import { outputGrammar } from "../outputGrammar.js";
import { TextAssembler } from "../TextAssembler.js";
import { ToolCallStream } from "../tools/ToolCallStream.js";
import { withToolInstructions } from "../tools/llama3ToolFormat.js";
import type { GenerationEvent, GenerationRequest, StopReason, TokenLogprob } from "../types.js";
import { brokeOff, readSseData, refusalOf, upstreamFetch } from "./http.js";
import { HttpUpstream } from "./HttpUpstream.js";
import { type Feature, type UpstreamClient, type UpstreamProbe, UpstreamRefused } from "./upstream.js";

/**
 * llama.cpp's own server: everything but two of our features, with our API's rules. The
 * gateway renders the Llama 3 prompt itself (tools in its system prompt), tokenizes it on the
 * upstream (`/tokenize`, special tokens as ids, text never parsed as control tokens), compiles
 * JSON schemas and tool calls to GBNF, and drives `/completion` with a token-id prompt, every
 * sampler set explicitly, `cache_prompt` and the seed. Stops and tool calls are read on our
 * side, so replies have exactly our shape. Not here: `tool_choice: "auto"` (our lazy tool
 * grammar re-samples the reply's first token) and `min_tokens`; a request using them goes to
 * a Lunaris node, or gets a 400 naming the field.
 */
const FEATURES: ReadonlySet<Feature> = new Set<Feature>([
  "minP",
  "topK",
  "repetitionPenalty",
  "dry",
  "xtc",
  "logitBias",
  "bannedStrings",
  "ignoreEos",
  "grammar",
  "logprobs",
  "tokenPrompt",
]);

interface Prob {
  id: number;
  token: string;
  logprob: number;
  bytes?: number[] | null;
  top_logprobs?: { id: number; token: string; logprob: number; bytes?: number[] | null }[];
}

interface CompletionChunk {
  content?: string;
  tokens?: number[];
  stop?: boolean;
  stop_type?: "none" | "eos" | "limit" | "word";
  tokens_predicted?: number;
  completion_probabilities?: Prob[];
  timings?: { cache_n?: number; prompt_n?: number };
  error?: { message?: string };
}

const SPECIALS_TEXT = "<|begin_of_text|><|start_header_id|><|end_header_id|><|eot_id|>";

export class LlamaServerClient extends HttpUpstream implements UpstreamClient {
  readonly features = FEATURES;
  private specials: Llama3Specials | null = null;
  private contextLength: number | null = null;
  private info: UpstreamProbe["modelInfo"];
  private slots: number | undefined;

  async probe(signal: AbortSignal): Promise<UpstreamProbe> {
    const url = this.url("/health");
    const res = await upstreamFetch(url, { headers: this.headers, signal });
    if (!res.ok) throw await refusalOf(url, res);
    if (!this.specials || this.contextLength === null) {
      const ids = await this.tokenizeRaw(SPECIALS_TEXT, true, signal);
      if (ids.length !== 4)
        throw new Error(
          `${this.config.url}: not a Llama 3 vocabulary (its chat template's special tokens are missing)`,
        );
      const [bos, startHeader, endHeader, eot] = ids as [number, number, number, number];
      this.specials = { bos, startHeader, endHeader, eot };
      const props = await fetch(this.url("/props"), { headers: this.headers, signal }).then(
        (r) =>
          r.json() as Promise<{
            default_generation_settings?: { n_ctx?: number };
            total_slots?: number;
            chat_template?: string;
            bos_token?: string;
            eos_token?: string;
          }>,
      );
      this.contextLength = props.default_generation_settings?.n_ctx ?? null;
      this.slots = props.total_slots;
      this.info = {
        chatTemplate: props.chat_template ?? null,
        bosToken: props.bos_token ?? "<|begin_of_text|>",
        eosToken: props.eos_token ?? "<|eot_id|>",
      };
    }
    return {
      model: this.contextLength ? { contextLength: this.contextLength } : {},
      sequences: this.slots,
      modelInfo: this.info,
    };
  }

  private async tokenizeRaw(
    content: string | (string | number)[],
    parseSpecial: boolean,
    signal: AbortSignal,
  ): Promise<number[]> {
    const r = await this.call<{ tokens: number[] }>(
      "/tokenize",
      { content, add_special: false, parse_special: parseSpecial },
      signal,
    );
    return r.tokens;
  }

  async tokenize(text: string, special: boolean, addBos: boolean): Promise<number[]> {
    const ids = await this.tokenizeRaw(text, special, AbortSignal.timeout(30_000));
    return addBos && this.specials ? [this.specials.bos, ...ids] : ids;
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    return (await this.call<{ content: string }>("/detokenize", { tokens }, AbortSignal.timeout(30_000))).content;
  }

  /** The prompt as token ids, rendered and tokenized as the in-process engine does. */
  private async promptIds(r: GenerationRequest, signal: AbortSignal): Promise<number[]> {
    const sp = this.specials;
    if (!sp) throw new UpstreamRefused(`${this.config.url}: not probed yet`, true);
    const p = r.prompt;
    if (p.type === "chat") {
      const messages = r.tools ? withToolInstructions(p.messages, r.tools) : p.messages;
      return this.tokenizeRaw(renderLlama3Pieces(messages, sp), false, signal);
    }
    const ids = p.type === "tokens" ? [...p.tokens] : await this.tokenizeRaw(p.text, true, signal);
    return ids[0] === sp.bos ? ids : [sp.bos, ...ids];
  }

  /** logit_bias in llama-server's form (`false` bans), banned strings' tokens included: once a request. */
  private async logitBias(s: GenerationRequest["sampling"], signal: AbortSignal): Promise<[number, number | false][]> {
    const bias: [number, number | false][] = [...(s.logitBias ?? [])].map(([t, b]) => [
      t,
      Number.isFinite(b) ? b : false,
    ]);
    const banned = await Promise.all((s.bannedStrings ?? []).map((text) => this.tokenizeRaw(text, false, signal)));
    for (const t of banned.flat()) bias.push([t, false]);
    return bias;
  }

  /** `/completion`'s body for one choice: every sampler explicit (llama-server's defaults differ from ours). */
  private body(
    r: GenerationRequest,
    prompt: number[],
    choice: number,
    grammar: string | null,
    bias: [number, number | false][],
  ): Record<string, unknown> {
    const s = r.sampling;
    return {
      prompt,
      stream: true,
      cache_prompt: true,
      return_tokens: true,
      n_predict: r.maxTokens ?? -1,
      seed: (s.seed + choice) >>> 0,
      temperature: s.temperature,
      top_p: s.topP,
      top_k: s.topK,
      min_p: s.minP,
      typical_p: 1,
      top_n_sigma: -1,
      dynatemp_range: 0,
      mirostat: 0,
      presence_penalty: s.presencePenalty,
      frequency_penalty: s.frequencyPenalty,
      repeat_penalty: s.repetitionPenalty,
      // "All of them": llama-server refuses -1 here, and 0 turns the penalties off.
      repeat_last_n: s.penaltyLastN ?? this.contextLength ?? 8192,
      dry_multiplier: s.dry?.multiplier ?? 0,
      ...(s.dry
        ? {
            dry_base: s.dry.base,
            dry_allowed_length: s.dry.allowedLength,
            dry_penalty_last_n: s.dry.lastN ?? this.contextLength ?? 8192,
            // llama-server wants at least one breaker; NUL never occurs in text, so it breaks nothing.
            dry_sequence_breakers: s.dry.sequenceBreakers.length > 0 ? s.dry.sequenceBreakers : ["\u0000"],
          }
        : {}),
      xtc_probability: s.xtc?.probability ?? 0,
      xtc_threshold: s.xtc?.threshold ?? 0.1,
      logit_bias: bias,
      ignore_eos: s.ignoreEos === true,
      n_probs: r.logprobs?.top ?? 0,
      post_sampling_probs: false,
      // Stops are cut on our side too (TextAssembler); llama-server's own just ends the work early.
      stop: r.tools ? [] : r.stopSequences,
      ...(grammar ? { grammar } : {}),
    };
  }

  async *generate(request: GenerationRequest, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    const grammar = outputGrammar(request);
    const prompt = await this.promptIds(request, signal);
    if (this.contextLength !== null && prompt.length + (request.maxTokens ?? 1) > this.contextLength) {
      throw contextOverflow(this.contextLength, prompt.length + (request.maxTokens ?? 1), prompt.length);
    }
    const url = this.url("/completion");
    const bias = await this.logitBias(request.sampling, signal);
    // One /completion per choice (seed + i), all started before the first event, so a refusal
    // still comes before it.
    const responses = await Promise.all(
      Array.from({ length: request.choices }, async (_, i) => {
        const res = await upstreamFetch(url, {
          method: "POST",
          headers: this.headers,
          body: JSON.stringify(this.body(request, prompt, i, grammar, bias)),
          signal,
        });
        if (!res.ok || !res.body) throw await refusalOf(url, res);
        return res.body;
      }),
    );
    const queue: GenerationEvent[] = [];
    let wake: (() => void) | null = null;
    let failure: unknown = null;
    let open = responses.length;
    let cached = 0;
    const push = (ev: GenerationEvent) => {
      queue.push(ev);
      wake?.();
    };
    responses.forEach((body, i) => {
      this.readChoice(request, i, body, prompt.length, push).then(
        (cachedTokens) => {
          if (i === 0) cached = cachedTokens;
          open--;
          wake?.();
        },
        (e: unknown) => {
          failure ??= e;
          open--;
          wake?.();
        },
      );
    });
    yield { type: "start", promptTokens: prompt.length };
    const ends: GenerationEvent[] = [];
    while (open > 0 || queue.length > 0) {
      if (queue.length === 0) await new Promise<void>((r) => (wake = r));
      wake = null;
      if (failure !== null) throw signal.aborted ? failure : brokeOff(this.config.url, failure);
      for (const ev of queue.splice(0)) {
        // Ends wait for the last choice, so they carry the cached count choice 0 learned.
        if (ev.type === "end") ends.push(ev);
        else yield ev;
      }
    }
    if (failure !== null) throw signal.aborted ? failure : brokeOff(this.config.url, failure);
    for (const ev of ends) yield ev.type === "end" ? { ...ev, cachedTokens: cached } : ev;
  }

  /** Reads one choice's stream into events; resolves with the prompt tokens llama-server reused from its cache. */
  private async readChoice(
    r: GenerationRequest,
    choice: number,
    body: AsyncIterable<Uint8Array>,
    promptTokens: number,
    push: (ev: GenerationEvent) => void,
  ): Promise<number> {
    const text = new TextAssembler(() => "", r.tools ? [] : r.stopSequences);
    const calls = r.tools ? new ToolCallStream() : null;
    let generated = 0;
    let cached = 0;
    let reason: StopReason = "endOfGeneration";
    const emit = (delta: string, logprobs: TokenLogprob[] | undefined) => {
      if (calls) {
        for (const e of calls.push(delta)) {
          if (e.type === "call")
            push({
              type: "toolCall",
              choice,
              index: e.index,
              id: `call_${Math.random().toString(36).slice(2, 14)}`,
              name: e.name,
              tokens: generated,
            });
          else push({ type: "toolArguments", choice, index: e.index, text: e.text, tokens: generated });
        }
      } else if (delta !== "" || logprobs?.length)
        push({ type: "text", choice, text: delta, logprobs, tokens: generated });
    };
    for await (const data of readSseData(body)) {
      const chunk = JSON.parse(data) as CompletionChunk;
      // An error event from a live server is this generation's failure, not the server's death.
      if (chunk.error)
        throw new EngineError("generation_failed", `llama-server: ${chunk.error.message ?? "error event"}`);
      generated += chunk.tokens?.length ?? 0;
      const logprobs = r.logprobs ? chunk.completion_probabilities?.map(toLogprob) : undefined;
      if (!text.hitStop) emit(text.pushText(chunk.content ?? ""), logprobs);
      if (text.hitStop) {
        reason = "stopSequence"; // ours, before llama-server's: leaving the stream ends its work
        break;
      }
      if (chunk.stop) {
        generated = chunk.tokens_predicted ?? generated;
        cached = chunk.timings?.cache_n ?? 0;
        reason =
          text.hitStop || chunk.stop_type === "word"
            ? "stopSequence"
            : chunk.stop_type === "limit"
              ? r.maxTokens === undefined
                ? "contextFull"
                : "maxTokens"
              : "endOfGeneration";
        break;
      }
    }
    if (!text.hitStop) emit(text.flush(), undefined);
    if (calls && calls.callCount > 0) reason = "toolCalls";
    push({ type: "end", choice, reason, completionTokens: generated, promptTokens });
    return cached;
  }
}

function toLogprob(p: Prob): TokenLogprob {
  const bytes = (t: string, b?: number[] | null) => b ?? [...Buffer.from(t, "utf8")];
  return {
    token: p.id,
    text: p.token,
    bytes: bytes(p.token, p.bytes),
    logprob: p.logprob,
    top: (p.top_logprobs ?? []).map((a) => ({
      token: a.id,
      text: a.token,
      bytes: bytes(a.token, a.bytes),
      logprob: a.logprob,
    })),
  };
}
