import { randomInt } from "node:crypto";

/** One streamed chat completion, timed on the client side. */
export interface StreamTiming {
  promptTokens: number;
  completionTokens: number;
  /** ms from sending to the first content delta. */
  ttftMs: number;
  /** ms from sending to the last byte. */
  totalMs: number;
  /** ms between the first and the last content delta. */
  decodeMs: number;
}

export const MODEL_ID = "Sao10K/L3-8B-Lunaris-v1";

const WORDS = "river stone lantern orchard velvet harbor meadow ember quartz willow canyon falcon amber thistle cobalt marble".split(" ");

/** Random prose, so no two prompts share a prefix unless a test wants them to. */
export function randomWords(n: number): string {
  return Array.from({ length: n }, () => WORDS[randomInt(WORDS.length)]).join(" ");
}

type Message = { role: "system" | "user" | "assistant"; content: string };

export async function streamChat(base: string, messages: Message[], maxTokens: number): Promise<StreamTiming & { text: string }> {
  const started = performance.now();
  const res = await fetch(`${base}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: MODEL_ID,
      messages,
      max_tokens: maxTokens,
      // llama-server's default sampler settings, sent explicitly so both servers sample alike.
      temperature: 0.8,
      top_k: 40,
      top_p: 0.95,
      min_p: 0.05,
      seed: randomInt(2 ** 31),
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let first = 0;
  let last = 0;
  let text = "";
  let usage = { prompt_tokens: 0, completion_tokens: 0 };
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const part of res.body) {
    buffer += decoder.decode(part as Uint8Array, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) !== -1) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.replace(/^data: /, "");
      if (data === "[DONE]" || data === "") continue;
      const chunk = JSON.parse(data) as { choices?: { delta?: { content?: string } }[]; usage?: typeof usage; error?: { message?: string } };
      if (chunk.error) throw new Error(`stream error: ${chunk.error.message}`);
      const delta = chunk.choices?.[0]?.delta?.content;
      if (delta) {
        const now = performance.now();
        if (!first) first = now;
        last = now;
        text += delta;
      }
      if (chunk.usage) usage = chunk.usage;
    }
  }
  const end = performance.now();
  return {
    text,
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
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
  const r = await streamChat(base, [{ role: "user", content: randomWords(8) }], maxTokens);
  return { decodeTps: ((r.completionTokens - 1) * 1000) / r.decodeMs, tokens: r.completionTokens };
}

/** Prompt processing: a fresh prompt of ~n tokens, one output token; prompt tokens over TTFT. */
export async function promptProcessing(base: string, words: number): Promise<{ ppTps: number; promptTokens: number }> {
  const r = await streamChat(base, [{ role: "user", content: randomWords(words) }], 1);
  return { ppTps: (r.promptTokens * 1000) / r.ttftMs, promptTokens: r.promptTokens };
}

export interface ConcurrencyResult {
  concurrency: number;
  aggregateTps: number;
  ttftP50Ms: number;
  ttftP90Ms: number;
  itlMs: number;
}

/** `c` streams at once, each `maxTokens` long: aggregate output tokens/s over the wall time. */
export async function concurrent(base: string, c: number, maxTokens: number): Promise<ConcurrencyResult> {
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: c }, () => streamChat(base, [{ role: "user", content: randomWords(8) }], maxTokens)));
  const wallMs = performance.now() - started;
  const tokens = runs.reduce((a, r) => a + r.completionTokens, 0);
  const itl = runs.filter((r) => r.completionTokens > 1).map((r) => r.decodeMs / (r.completionTokens - 1));
  return {
    concurrency: c,
    aggregateTps: (tokens * 1000) / wallMs,
    ttftP50Ms: percentile(runs.map((r) => r.ttftMs), 50),
    ttftP90Ms: percentile(runs.map((r) => r.ttftMs), 90),
    itlMs: itl.reduce((a, x) => a + x, 0) / Math.max(1, itl.length),
  };
}

/** A chat of `turns` turns, each adding a ~`words`-word user message: TTFT per turn. */
export async function multiTurn(base: string, turns: number, words: number, maxTokens: number): Promise<number[]> {
  const messages: Message[] = [{ role: "system", content: "You are a storyteller." }];
  const ttft: number[] = [];
  for (let t = 0; t < turns; t++) {
    messages.push({ role: "user", content: randomWords(words) });
    const r = await streamChat(base, messages, maxTokens);
    ttft.push(r.ttftMs);
    messages.push({ role: "assistant", content: r.text });
  }
  return ttft;
}
