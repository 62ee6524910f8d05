import { EngineError } from "../errors.js";
import type { ChatMessage, GenerationEvent, GenerationRequest, StopReason, TokenLogprob } from "../types.js";
import { brokeOff, readSseData, refusalOf, upstreamFetch } from "./http.js";
import { HttpUpstream } from "./HttpUpstream.js";
import type { Feature, UpstreamClient, UpstreamConfig, UpstreamProbe } from "./upstream.js";

/**
 * What an OpenAI-compatible server (vLLM, SGLang, TGI, llama-server's /v1, a hosted provider)
 * takes from a request: OpenAI's own fields, plus min_p, top_k and repetition_penalty, which
 * vLLM, SGLang and llama-server all accept as extra body fields. Our other extensions (DRY,
 * XTC, banned strings, min_tokens, ignore_eos, echo) are not sent; the gateway names them in
 * `x-lunaris-ignored-params` when such an upstream is the only one left to serve a request.
 */
const FEATURES: ReadonlySet<Feature> = new Set<Feature>([
  "minP",
  "topK",
  "repetitionPenalty",
  "logitBias",
  "grammar",
  "toolsAuto",
  "logprobs",
  "tokenPrompt",
]);

const FINISH: Record<string, StopReason> = {
  stop: "stopSequence",
  length: "maxTokens",
  tool_calls: "toolCalls",
  function_call: "toolCalls",
};

interface ChunkChoice {
  index: number;
  delta?: {
    content?: string | null;
    tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[];
  };
  text?: string;
  logprobs?: {
    content?:
      | {
          token: string;
          logprob: number;
          bytes?: number[] | null;
          top_logprobs?: { token: string; logprob: number; bytes?: number[] | null }[];
        }[]
      | null;
    tokens?: string[];
    token_logprobs?: (number | null)[];
    top_logprobs?: Record<string, number>[] | null;
  } | null;
  finish_reason?: string | null;
}

interface Chunk {
  choices?: ChunkChoice[];
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
  } | null;
  error?: { message?: string };
}

const bytesOf = (text: string, bytes?: number[] | null): number[] => bytes ?? [...Buffer.from(text, "utf8")];

/** OpenAI messages from engine messages; a tool result answers the calls before it, in order. */
function toMessages(messages: readonly ChatMessage[]): unknown[] {
  const pending: string[] = [];
  return messages.map((m) => {
    if (m.role === "assistant" && m.toolCalls?.length) {
      pending.push(...m.toolCalls.map((t) => t.id));
      return {
        role: "assistant",
        content: m.content || null,
        tool_calls: m.toolCalls.map((t) => ({
          id: t.id,
          type: "function",
          function: { name: t.name, arguments: t.arguments },
        })),
      };
    }
    if (m.role === "tool") return { role: "tool", content: m.content, tool_call_id: pending.shift() ?? "call_0" };
    return { role: m.role, content: m.content };
  });
}

/** The request as OpenAI's chat or text completions body, every sampling value explicit. */
export function toOpenAiBody(r: GenerationRequest, model: string): { path: string; body: Record<string, unknown> } {
  const s = r.sampling;
  const body: Record<string, unknown> = {
    model,
    stream: true,
    stream_options: { include_usage: true },
    n: r.choices,
    temperature: s.temperature,
    top_p: s.topP,
    top_k: s.topK, // 0 = off for vLLM, SGLang, llama-server and us (omitted, llama-server would apply 40)
    min_p: s.minP,
    repetition_penalty: s.repetitionPenalty,
    presence_penalty: s.presencePenalty,
    frequency_penalty: s.frequencyPenalty,
    seed: s.seed,
  };
  if (r.maxTokens !== undefined) body.max_tokens = r.maxTokens;
  if (r.stopSequences.length > 0) body.stop = r.stopSequences;
  if (s.logitBias?.size)
    body.logit_bias = Object.fromEntries(
      [...s.logitBias].map(([t, b]) => [String(t), Math.max(-100, Math.min(100, b))]),
    );
  if (r.prompt.type !== "chat") {
    body.prompt = r.prompt.type === "text" ? r.prompt.text : r.prompt.tokens;
    if (r.logprobs) body.logprobs = r.logprobs.top;
    return { path: "/completions", body };
  }
  body.messages = toMessages(r.prompt.messages);
  if (r.logprobs) Object.assign(body, { logprobs: true, top_logprobs: r.logprobs.top });
  if (r.format?.type === "jsonObject") body.response_format = { type: "json_object" };
  if (r.format?.type === "jsonSchema")
    body.response_format = {
      type: "json_schema",
      json_schema: { name: "output", schema: r.format.schema, strict: true },
    };
  if (r.tools) {
    body.tools = r.tools.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.parameters },
    }));
    const c = r.tools.choice;
    body.tool_choice = c.type === "function" ? { type: "function", function: { name: c.name } } : c.type;
    body.parallel_tool_calls = r.tools.parallel;
  }
  return { path: "/chat/completions", body };
}

function logprobsOf(c: ChunkChoice): TokenLogprob[] | undefined {
  const lp = c.logprobs;
  if (!lp) return undefined;
  if (lp.content) {
    return lp.content.map((t) => ({
      token: -1, // an OpenAI server names tokens by text only
      text: t.token,
      bytes: bytesOf(t.token, t.bytes),
      logprob: t.logprob,
      top: (t.top_logprobs ?? []).map((a) => ({
        token: -1,
        text: a.token,
        bytes: bytesOf(a.token, a.bytes),
        logprob: a.logprob,
      })),
    }));
  }
  return (lp.tokens ?? []).map((text, i) => ({
    token: -1,
    text,
    bytes: bytesOf(text),
    logprob: lp.token_logprobs?.[i] ?? 0,
    top: Object.entries(lp.top_logprobs?.[i] ?? {}).map(([t, logprob]) => ({
      token: -1,
      text: t,
      bytes: bytesOf(t),
      logprob,
    })),
  }));
}

/** Any OpenAI-compatible server: the request forwarded in OpenAI's shape, its usage read back for our ledger. */
export class OpenAiClient extends HttpUpstream implements UpstreamClient {
  readonly features = FEATURES;
  private model: string | undefined;

  constructor(config: UpstreamConfig) {
    super(config);
    this.model = config.model;
  }

  async probe(signal: AbortSignal): Promise<UpstreamProbe> {
    type Listed = { id: string; context_length?: number; max_model_len?: number; meta?: { n_ctx_train?: number } };
    const list = await this.call<{ data?: Listed[] }>("/models", undefined, signal);
    const listed = list.data ?? [];
    const model = listed.find((m) => m.id === this.config.model) ?? listed[0];
    if (!model) throw new Error(`${this.url("/models")}: serves no model`);
    this.model ??= model.id;
    const context = model.context_length ?? model.max_model_len ?? model.meta?.n_ctx_train;
    return { model: context ? { contextLength: context } : {} };
  }

  async *generate(request: GenerationRequest, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    const { path, body } = toOpenAiBody(request, this.model ?? "default");
    const url = this.url(path);
    const res = await upstreamFetch(url, { method: "POST", headers: this.headers, body: JSON.stringify(body), signal });
    if (!res.ok || !res.body) throw await refusalOf(url, res);
    const n = request.choices;
    const chunks = new Array<number>(n).fill(0);
    const calls = Array.from({ length: n }, () => new Set<number>());
    const ended: { choice: number; reason: StopReason }[] = [];
    let usage: Chunk["usage"] = null;
    yield { type: "start" };
    try {
      for await (const data of readSseData(res.body)) {
        const chunk = JSON.parse(data) as Chunk;
        // An error event from a live server is this generation's failure, not the server's death.
        if (chunk.error)
          throw new EngineError("generation_failed", `upstream: ${chunk.error.message ?? "error event"}`);
        if (chunk.usage) usage = chunk.usage;
        for (const c of chunk.choices ?? []) {
          const choice = c.index;
          if (choice < 0 || choice >= n) continue;
          const text = c.delta?.content ?? c.text ?? "";
          const logprobs = logprobsOf(c);
          if (text !== "" || logprobs?.length) {
            chunks[choice] = (chunks[choice] ?? 0) + 1;
            yield { type: "text", choice, text, logprobs, tokens: chunks[choice] };
          }
          for (const t of c.delta?.tool_calls ?? []) {
            const seen = calls[choice] as Set<number>;
            if (!seen.has(t.index)) {
              seen.add(t.index);
              yield {
                type: "toolCall",
                choice,
                index: t.index,
                id: t.id ?? `call_${choice}_${t.index}`,
                name: t.function?.name ?? "",
              };
            }
            if (t.function?.arguments)
              yield { type: "toolArguments", choice, index: t.index, text: t.function.arguments };
          }
          if (c.finish_reason) ended.push({ choice, reason: FINISH[c.finish_reason] ?? "endOfGeneration" });
        }
      }
    } catch (e) {
      if (signal.aborted) throw e;
      throw brokeOff(this.config.url, e);
    }
    if (ended.length < n) throw brokeOff(this.config.url, new Error(`${ended.length} of ${n} choices finished`));
    yield* billedEnds(ended, chunks, usage);
  }
}

/** The choices' ends, with usage (the request's total) split: each choice its chunks, the last one the rest. */
function* billedEnds(
  ended: readonly { choice: number; reason: StopReason }[],
  chunks: readonly number[],
  usage: Chunk["usage"],
): Generator<GenerationEvent> {
  const total = usage?.completion_tokens ?? chunks.reduce((a, b) => a + b, 0);
  let billed = 0;
  for (const [k, e] of ended.entries()) {
    const own = k === ended.length - 1 ? Math.max(0, total - billed) : (chunks[e.choice] ?? 0);
    billed += own;
    yield {
      type: "end",
      choice: e.choice,
      reason: e.reason,
      completionTokens: own,
      promptTokens: usage?.prompt_tokens,
      cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
    };
  }
}
