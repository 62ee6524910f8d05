import { randomInt } from "node:crypto";
import type { ChatMessage, GenerationRequest, SamplingOptions } from "../../engine/types.js";
import { invalidRequest, unsupportedField } from "../errors.js";
import { toSamplerExtensions } from "./toSamplerExtensions.js";
import type { ChatCompletionRequest, GenerationFields, WireContent, WireMessage } from "../protocol/chatCompletionRequest.js";

/** OpenAI / provider defaults, applied when a field is absent or null. */
export const SAMPLING_DEFAULTS = {
  temperature: 1,
  top_p: 1,
  top_k: 0,
  min_p: 0,
  presence_penalty: 0,
  frequency_penalty: 0,
  repetition_penalty: 1,
} as const;

function contentText(c: WireContent | null | undefined, param: string): string {
  if (c === null || c === undefined) return "";
  if (typeof c === "string") return c;
  return c
    .map((part, j) => {
      if (part.type === "text" && "text" in part) return part.text;
      throw invalidRequest(
        `Content part type '${part.type}' is not supported: this model reads text only.`,
        `${param}[${j}]`,
        "unsupported_content",
      );
    })
    .join("\n");
}

/** Assistant tool calls from earlier turns, rendered as the JSON the model would have written. */
function toolCallsText(calls: readonly unknown[]): string {
  return calls
    .map((call) => {
      const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function;
      return JSON.stringify({ name: fn?.name, arguments: fn?.arguments });
    })
    .join("\n");
}

export function toChatMessages(messages: readonly WireMessage[]): ChatMessage[] {
  return messages.map((m, i) => {
    const param = `messages[${i}]`;
    if (m.role === "tool") {
      if (!m.tool_call_id) throw invalidRequest("A tool message needs a 'tool_call_id'.", `${param}.tool_call_id`);
      const prev = messages[i - 1];
      const follows = prev && (prev.role === "tool" || (prev.role === "assistant" && (prev.tool_calls?.length ?? 0) > 0));
      if (!follows) {
        throw invalidRequest(
          "A tool message must follow an assistant message with 'tool_calls' (or another tool message).",
          `${param}.role`,
        );
      }
    }
    if (m.role !== "assistant" && (m.content === null || m.content === undefined)) {
      throw invalidRequest(`A ${m.role} message needs 'content'.`, `${param}.content`);
    }
    let text = contentText(m.content, `${param}.content`);
    if (m.role === "assistant" && m.tool_calls && m.tool_calls.length > 0) {
      text = [text, toolCallsText(m.tool_calls)].filter((s) => s !== "").join("\n");
    }
    return { role: m.role === "developer" ? "system" : m.role, content: text };
  });
}

/** Fields the provider documents that a later issue implements: refuse them loudly, never ignore. */
function rejectNotYetSupported(r: ChatCompletionRequest): void {
  if (Array.isArray(r.tools) ? r.tools.length > 0 : r.tools !== undefined && r.tools !== null) {
    throw unsupportedField("tools", "tool calling is not available yet.");
  }
  if (r.tool_choice !== undefined && r.tool_choice !== null && r.tool_choice !== "none") {
    throw unsupportedField("tool_choice");
  }
  const rf = r.response_format as { type?: unknown } | null | undefined;
  if (rf !== undefined && rf !== null && rf.type !== "text") {
    throw unsupportedField("response_format", "only {\"type\":\"text\"} is available yet.");
  }
  if (r.logprobs !== undefined && r.logprobs !== null && r.logprobs !== false) throw unsupportedField("logprobs");
  if (r.top_logprobs !== undefined && r.top_logprobs !== null) throw unsupportedField("top_logprobs");
}

/** A uint32 seed: the client's (wrapped), or a fresh random one — never the wall-clock second. */
function toSeed(seed: number | null | undefined): number {
  if (seed === null || seed === undefined) return randomInt(0, 2 ** 32);
  return Number(BigInt.asUintN(32, BigInt(seed)));
}

export type SamplingDefaults = { [K in keyof typeof SAMPLING_DEFAULTS]?: number | undefined };

/** Request value → the operator's per-model default (`--sampling-defaults`) → the provider's default. */
export function toSampling(r: GenerationFields, tokenize: (text: string) => number[], operator: SamplingDefaults = {}): SamplingOptions {
  const d: Record<keyof typeof SAMPLING_DEFAULTS, number> = { ...SAMPLING_DEFAULTS };
  for (const [k, v] of Object.entries(operator)) if (v !== undefined) d[k as keyof typeof SAMPLING_DEFAULTS] = v;
  return {
    ...toSamplerExtensions(r, tokenize),
    temperature: r.temperature ?? d.temperature,
    topP: r.top_p ?? d.top_p,
    topK: r.top_k ?? d.top_k,
    minP: r.min_p ?? d.min_p,
    seed: toSeed(r.seed),
    presencePenalty: r.presence_penalty ?? d.presence_penalty,
    frequencyPenalty: r.frequency_penalty ?? d.frequency_penalty,
    repetitionPenalty: r.repetition_penalty ?? d.repetition_penalty,
  };
}

export function toStopSequences(stop: GenerationFields["stop"]): string[] {
  if (stop === null || stop === undefined) return [];
  const list = typeof stop === "string" ? [stop] : stop;
  return list.filter((s) => s !== "");
}

export function toGenerationRequest(
  r: ChatCompletionRequest,
  modelId: string,
  signal: AbortSignal,
  tokenize: (text: string) => number[],
  defaults: SamplingDefaults = {},
): GenerationRequest {
  rejectNotYetSupported(r);
  return {
    model: modelId,
    prompt: { type: "chat", messages: toChatMessages(r.messages) },
    maxTokens: r.max_completion_tokens ?? r.max_tokens ?? undefined,
    stopSequences: toStopSequences(r.stop),
    choices: r.n ?? 1,
    sampling: toSampling(r, tokenize, defaults),
    signal,
  };
}
