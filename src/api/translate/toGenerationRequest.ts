import { randomInt } from "node:crypto";
import type { ChatMessage, GenerationRequest, SamplingOptions } from "../../engine/types.js";
import { invalidRequest, unsupportedField } from "../errors.js";
import type { ChatCompletionRequest, WireContent, WireMessage } from "../protocol/chatCompletionRequest.js";

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
  const bias = r.logit_bias as Record<string, unknown> | null | undefined;
  if (bias !== undefined && bias !== null && Object.keys(bias).length > 0) throw unsupportedField("logit_bias");
}

/** A uint32 seed: the client's (wrapped), or a fresh random one — never the wall-clock second. */
function toSeed(seed: number | null | undefined): number {
  if (seed === null || seed === undefined) return randomInt(0, 2 ** 32);
  return Number(BigInt.asUintN(32, BigInt(seed)));
}

export function toSampling(r: ChatCompletionRequest): SamplingOptions {
  return {
    temperature: r.temperature ?? SAMPLING_DEFAULTS.temperature,
    topP: r.top_p ?? SAMPLING_DEFAULTS.top_p,
    topK: r.top_k ?? SAMPLING_DEFAULTS.top_k,
    minP: r.min_p ?? SAMPLING_DEFAULTS.min_p,
    seed: toSeed(r.seed),
    presencePenalty: r.presence_penalty ?? SAMPLING_DEFAULTS.presence_penalty,
    frequencyPenalty: r.frequency_penalty ?? SAMPLING_DEFAULTS.frequency_penalty,
    repetitionPenalty: r.repetition_penalty ?? SAMPLING_DEFAULTS.repetition_penalty,
  };
}

function toStopSequences(stop: ChatCompletionRequest["stop"]): string[] {
  if (stop === null || stop === undefined) return [];
  const list = typeof stop === "string" ? [stop] : stop;
  return list.filter((s) => s !== "");
}

export function toGenerationRequest(r: ChatCompletionRequest, modelId: string, signal: AbortSignal): GenerationRequest {
  rejectNotYetSupported(r);
  return {
    model: modelId,
    messages: toChatMessages(r.messages),
    maxTokens: r.max_completion_tokens ?? r.max_tokens ?? undefined,
    stopSequences: toStopSequences(r.stop),
    choices: r.n ?? 1,
    sampling: toSampling(r),
    signal,
  };
}
