import { randomInt } from "node:crypto";
import type { ChatMessage, GenerationRequest, SamplingOptions, ToolCall } from "../../engine/types.js";
import { invalidRequest } from "../errors.js";
import { toSamplerExtensions } from "./toSamplerExtensions.js";
import { toOutputFormat, toToolsRequest } from "./toStructuredOutput.js";
import type {
  ChatCompletionRequest,
  GenerationFields,
  WireContent,
  WireMessage,
} from "../protocol/chatCompletionRequest.js";

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

function toToolCalls(calls: WireMessage["tool_calls"]): ToolCall[] | undefined {
  if (!calls || calls.length === 0) return undefined;
  return calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
}

export function toChatMessages(messages: readonly WireMessage[]): ChatMessage[] {
  return messages.map((m, i) => {
    const param = `messages[${i}]`;
    if (m.role === "tool") {
      if (!m.tool_call_id) throw invalidRequest("A tool message needs a 'tool_call_id'.", `${param}.tool_call_id`);
      // The calls this result may answer: those of the assistant turn before the run of tool messages.
      let j = i - 1;
      while (j >= 0 && messages[j]?.role === "tool") j--;
      const calls = messages[j]?.role === "assistant" ? (messages[j]?.tool_calls ?? []) : [];
      if (calls.length === 0) {
        throw invalidRequest(
          "A tool message must follow an assistant message with 'tool_calls' (or another tool message).",
          `${param}.role`,
        );
      }
      if (!calls.some((c) => c.id === m.tool_call_id)) {
        throw invalidRequest(
          `'tool_call_id' ${m.tool_call_id} matches none of the preceding assistant message's tool_calls.`,
          `${param}.tool_call_id`,
        );
      }
    }
    if (m.role !== "assistant" && (m.content === null || m.content === undefined)) {
      throw invalidRequest(`A ${m.role} message needs 'content'.`, `${param}.content`);
    }
    const toolCalls = m.role === "assistant" ? toToolCalls(m.tool_calls) : undefined;
    if (toolCalls) {
      toolCalls.forEach((c, k) => {
        try {
          JSON.parse(c.arguments === "" ? "{}" : c.arguments);
        } catch {
          throw invalidRequest(
            "Tool call arguments must be a JSON string.",
            `${param}.tool_calls[${k}].function.arguments`,
          );
        }
      });
    }
    return {
      role: m.role === "developer" ? "system" : m.role,
      content: contentText(m.content, `${param}.content`),
      ...(toolCalls ? { toolCalls } : {}),
    };
  });
}

/** logprobs / top_logprobs → how many alternatives per token, or undefined. */
function toLogprobs(r: ChatCompletionRequest): { top: number } | undefined {
  if (r.logprobs !== true) {
    if (r.top_logprobs !== undefined && r.top_logprobs !== null) {
      throw invalidRequest("'top_logprobs' needs 'logprobs' set to true.", "top_logprobs");
    }
    return undefined;
  }
  return { top: r.top_logprobs ?? 0 };
}

/** A uint32 seed: the client's (wrapped), or a fresh random one — never the wall-clock second. */
function toSeed(seed: number | null | undefined): number {
  if (seed === null || seed === undefined) return randomInt(0, 2 ** 32);
  return Number(BigInt.asUintN(32, BigInt(seed)));
}

export type SamplingDefaults = { [K in keyof typeof SAMPLING_DEFAULTS]?: number | undefined };

/** Request value → the operator's per-model default (`--sampling-defaults`) → the provider's default. */
export function toSampling(r: GenerationFields, operator: SamplingDefaults = {}): SamplingOptions {
  const d: Record<keyof typeof SAMPLING_DEFAULTS, number> = { ...SAMPLING_DEFAULTS };
  for (const [k, v] of Object.entries(operator)) if (v !== undefined) d[k as keyof typeof SAMPLING_DEFAULTS] = v;
  return {
    ...toSamplerExtensions(r),
    temperature: r.temperature ?? d.temperature,
    topP: r.top_p ?? d.top_p,
    topK: r.top_k ?? d.top_k,
    minP: r.min_p ?? d.min_p,
    seed: toSeed(r.seed),
    presencePenalty: r.presence_penalty ?? d.presence_penalty,
    frequencyPenalty: r.frequency_penalty ?? d.frequency_penalty,
    // llama.cpp's and KoboldCpp's names count when the OpenAI-style one is absent.
    repetitionPenalty: r.repetition_penalty ?? r.repeat_penalty ?? r.rep_pen ?? d.repetition_penalty,
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
  defaults: SamplingDefaults = {},
): GenerationRequest {
  const tools = toToolsRequest(r);
  return {
    model: modelId,
    prompt: { type: "chat", messages: toChatMessages(r.messages) },
    maxTokens: r.max_completion_tokens ?? r.max_tokens ?? undefined,
    stopSequences: toStopSequences(r.stop),
    choices: r.n ?? 1,
    sampling: toSampling(r, defaults),
    tools,
    format: toOutputFormat(r, tools),
    logprobs: toLogprobs(r),
    reproducible: r.seed !== undefined && r.seed !== null,
    signal,
  };
}
