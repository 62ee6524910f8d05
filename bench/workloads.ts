import { randomInt } from "node:crypto";
import { readSse } from "../src/client/readSse.js";

/** One streamed chat completion, timed on the client side. */
export interface StreamTiming {
  promptTokens: number;
  /** Prompt tokens the server reused from its cache (usage.prompt_tokens_details.cached_tokens). */
  cachedTokens: number;
  completionTokens: number;
  /** ms from sending to the first content delta. */
  ttftMs: number;
  /** ms from sending to the last byte. */
  totalMs: number;
  /** ms between the first and the last content delta. */
  decodeMs: number;
}

export const MODEL_ID = "Sao10K/L3-8B-Lunaris-v1";

/** Requests that failed on the server: streams ended by an error event, plain requests answered without usage (counted, reported with the results). */
export let streamErrors = 0;
export function takeStreamErrors(): number {
  const n = streamErrors;
  streamErrors = 0;
  return n;
}

const WORDS =
  "river stone lantern orchard velvet harbor meadow ember quartz willow canyon falcon amber thistle cobalt marble".split(
    " ",
  );

/** Random prose, so no two prompts share a prefix unless a test wants them to. */
export function randomWords(n: number): string {
  return Array.from({ length: n }, () => WORDS[randomInt(WORDS.length)]).join(" ");
}

type Message = { role: "system" | "user" | "assistant"; content: string };

/**
 * The Llama 3 chat template, rendered here so both servers get the same text. Workloads use
 * text completion: llama-server's chat endpoint parses replies (for tool calls and reasoning)
 * and fails on random-weights gibberish ("does not match the expected … format").
 */
export function llama3Prompt(messages: readonly Message[]): string {
  const turns = messages.map((m) => `<|start_header_id|>${m.role}<|end_header_id|>\n\n${m.content.trim()}<|eot_id|>`);
  return `<|begin_of_text|>${turns.join("")}<|start_header_id|>assistant<|end_header_id|>\n\n`;
}

/** `logit_bias` sent with every request to both servers (see partialUtf8.ts); empty until set. */
let bannedTokens: Record<string, number> = {};
export function banTokens(ids: readonly number[]): void {
  bannedTokens = Object.fromEntries(ids.map((t) => [String(t), -100]));
}

/** A text completion request for `messages`; llama-server's default sampler settings, sent explicitly so both servers sample alike. */
function completionBody(messages: readonly Message[], maxTokens: number, stream: boolean): string {
  return JSON.stringify({
    logit_bias: bannedTokens,
    model: MODEL_ID,
    prompt: llama3Prompt(messages),
    max_tokens: maxTokens,
    temperature: 0.8,
    top_k: 40,
    top_p: 0.95,
    min_p: 0.05,
    // No seed: both servers draw their own. A seeded request on ours reads its prompt in aligned
    // chunks for reproducibility (src/engine/alignment.ts), which is not the path to time.
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

export async function streamChat(
  base: string,
  messages: Message[],
  maxTokens: number,
): Promise<StreamTiming & { text: string; failed: boolean }> {
  const started = performance.now();
  const res = await fetch(`${base}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: completionBody(messages, maxTokens, true),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let first = 0;
  let last = 0;
  let text = "";
  let usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } } =
    {
      prompt_tokens: 0,
      completion_tokens: 0,
    };
  let chunks = 0;
  type Chunk = { choices?: { text?: string }[]; usage?: typeof usage };
  let failed = false;
  try {
    for await (const chunk of readSse<Chunk>(res.body as AsyncIterable<Uint8Array>)) {
      const delta = chunk.choices?.[0]?.text;
      if (delta) {
        chunks++;
        const now = performance.now();
        if (!first) first = now;
        last = now;
        text += delta;
      }
      if (chunk.usage) usage = chunk.usage;
    }
  } catch {
    // llama-server's output parser rejects some random-weights gibberish mid-stream ("does not
    // match the expected Content-only format"); the tokens streamed until then were generated.
    failed = true;
    streamErrors++;
  }
  const end = performance.now();
  return {
    text,
    failed,
    promptTokens: usage.prompt_tokens,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    // Usage when the server sends it; else one streamed chunk per token.
    completionTokens: failed ? chunks : usage.completion_tokens || chunks,
    ttftMs: (first || end) - started,
    totalMs: end - started,
    decodeMs: last - first,
  };
}

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

/** Decode speed of one stream: tokens after the first, over the time they took. */
export async function singleStream(base: string, maxTokens: number): Promise<{ decodeTps: number; tokens: number }> {
  // The longest of three tries: a stream cut short by a server error says little about speed.
  let best = { decodeTps: 0, tokens: 0 };
  for (let i = 0; i < 3 && best.tokens < maxTokens; i++) {
    const r = await streamChat(base, [{ role: "user", content: randomWords(8) }], maxTokens);
    if (r.completionTokens > best.tokens)
      best = { decodeTps: ((r.completionTokens - 1) * 1000) / r.decodeMs, tokens: r.completionTokens };
  }
  return best;
}

/**
 * Prompt processing: a fresh prompt of ~n tokens, one output token, not streamed; prompt tokens
 * over the request's time. Not streamed because llama-server's stream parser fails on most
 * one-token streams of random-weights output, while its plain JSON answer does not.
 * A failed request is retried with a new prompt (it shares no prefix with the last).
 */
export async function promptProcessing(base: string, words: number): Promise<{ ppTps: number; promptTokens: number }> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    const res = await fetch(`${base}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: completionBody([{ role: "user", content: randomWords(words) }], 1, false),
    });
    const body = (await res.json().catch(() => null)) as { usage?: { prompt_tokens?: number } } | null;
    const ms = performance.now() - started;
    const promptTokens = body?.usage?.prompt_tokens ?? 0;
    if (res.ok && promptTokens > 0) return { ppTps: (promptTokens * 1000) / ms, promptTokens };
    streamErrors++;
    if (attempt === 4) return { ppTps: 0, promptTokens: 0 };
  }
}

export interface ConcurrencyResult {
  concurrency: number;
  /** Output tokens over the wall time, prefills included (the mean, when over several rounds). */
  aggregateTps: number;
  /** Each round's aggregate, when the figures are means over rounds. */
  aggregateRuns?: number[];
  /** Output tokens after the first, over the time from the last first token to the last token (llama-batched-bench's S_TG). */
  decodeTps: number;
  meanPromptTokens: number;
  ttftP50Ms: number;
  ttftP90Ms: number;
  itlMs: number;
}

/** `c` streams at once, each `maxTokens` long: aggregate output tokens/s over the wall time. */
export async function concurrent(
  base: string,
  c: number,
  maxTokens: number,
  promptWords = 8,
): Promise<ConcurrencyResult> {
  let started = 0;
  let runs: Awaited<ReturnType<typeof streamChat>>[] = [];
  // A round where a stream died before its first token (a server error) says nothing about that
  // stream's speed: run it again, at most three times (both servers get the same rule).
  for (let attempt = 1; attempt <= 3; attempt++) {
    started = performance.now();
    runs = await Promise.all(
      Array.from({ length: c }, () =>
        streamChat(base, [{ role: "user", content: randomWords(promptWords) }], maxTokens),
      ),
    );
    if (runs.every((r) => r.completionTokens > 0)) break;
  }
  const wallMs = performance.now() - started;
  const tokens = runs.reduce((a, r) => a + r.completionTokens, 0);
  const decodeWindowMs = Math.max(...runs.map((r) => r.totalMs)) - Math.max(...runs.map((r) => r.ttftMs));
  const itl = runs.filter((r) => r.completionTokens > 1).map((r) => r.decodeMs / (r.completionTokens - 1));
  return {
    concurrency: c,
    aggregateTps: (tokens * 1000) / wallMs,
    decodeTps: ((tokens - runs.length) * 1000) / Math.max(1, decodeWindowMs),
    meanPromptTokens: runs.reduce((a, r) => a + r.promptTokens, 0) / runs.length,
    ttftP50Ms: percentile(
      runs.map((r) => r.ttftMs),
      50,
    ),
    ttftP90Ms: percentile(
      runs.map((r) => r.ttftMs),
      90,
    ),
    itlMs: itl.reduce((a, x) => a + x, 0) / Math.max(1, itl.length),
  };
}

export interface TurnResult {
  ttftMs: number;
  promptTokens: number;
  /** Prompt tokens the server evaluated (not taken from its cache). */
  readTokens: number;
}

/** A chat that grows by a ~`words`-word user message a turn; `turn()` sends the next one. */
export class MultiTurnChat {
  private readonly messages: Message[] = [{ role: "system", content: "You are a storyteller." }];

  /** Words in the next user message. */
  nextWords: number;

  constructor(
    private readonly base: string,
    words: number,
    private readonly maxTokens: number,
  ) {
    this.nextWords = words;
  }

  async turn(): Promise<TurnResult> {
    this.messages.push({ role: "user", content: randomWords(this.nextWords) });
    const r = await streamChat(this.base, this.messages, this.maxTokens);
    this.messages.push({ role: "assistant", content: r.text });
    return { ttftMs: r.ttftMs, promptTokens: r.promptTokens, readTokens: r.promptTokens - r.cachedTokens };
  }
}

export interface ReturningResult {
  /** The chat's first turn: prompt tokens and time to first token. */
  firstPromptTokens: number;
  firstTtftMs: number;
  /** Its second turn, after `others` other chats took every sequence. */
  promptTokens: number;
  readTokens: number;
  ttftMs: number;
}

/**
 * A chat that comes back after its sequence was taken: its first turn (a ~`words`-word message),
 * then `others` unrelated short chats at once (as many as the server has sequences, so one of
 * them must take the first chat's), then the first chat's second turn. A server that keeps
 * evicted prefixes (ours: the prefix store; llama-server: its `--cache-ram` prompt cache)
 * answers it without re-reading the conversation.
 */
export async function returningChat(
  base: string,
  words: number,
  others: number,
  maxTokens: number,
): Promise<ReturningResult> {
  const chat = new MultiTurnChat(base, words, maxTokens);
  const first = await chat.turn();
  await Promise.all(
    Array.from({ length: others }, () => streamChat(base, [{ role: "user", content: randomWords(12) }], maxTokens)),
  );
  chat.nextWords = 8;
  const second = await chat.turn();
  return {
    firstPromptTokens: first.promptTokens,
    firstTtftMs: first.ttftMs,
    promptTokens: second.promptTokens,
    readTokens: second.readTokens,
    ttftMs: second.ttftMs,
  };
}
