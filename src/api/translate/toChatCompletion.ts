import { randomUUID } from "node:crypto";
import { type Prices, costPicoUsd, picoToUsd } from "../../accounting/pricing.js";
import type { StopReason, TokenLogprob, ToolCall } from "../../engine/types.js";
import type {
  ChatCompletionChunk,
  ChoiceLogprobs,
  FinishReason,
  Usage,
  WireToolCall,
} from "../protocol/chatCompletionResponse.js";

/**
 * `chatcmpl-…` for chat, `cmpl-…` for text completions, as OpenAI names them. 122 random bits
 * from randomUUID, which draws on a buffered entropy pool: randomBytes() goes to OpenSSL on
 * every call, one of the larger items in a CPU profile of one-token requests.
 */
export function newCompletionId(prefix: "chatcmpl" | "cmpl" = "chatcmpl"): string {
  return `${prefix}-${randomUUID().replaceAll("-", "")}`;
}

export function toFinishReason(reason: Exclude<StopReason, "aborted">): FinishReason {
  switch (reason) {
    case "endOfGeneration":
    case "stopSequence":
      return "stop";
    case "maxTokens":
    case "contextFull":
      return "length";
    case "toolCalls":
      return "tool_calls";
    default:
      return reason satisfies never;
  }
}

/** Engine logprobs → OpenAI's chat `logprobs` object. */
export function toChoiceLogprobs(entries: readonly TokenLogprob[]): ChoiceLogprobs {
  return {
    content: entries.map((e) => ({
      token: e.text,
      logprob: e.logprob,
      bytes: [...e.bytes],
      top_logprobs: e.top.map((t) => ({ token: t.text, logprob: t.logprob, bytes: [...t.bytes] })),
    })),
    refusal: null,
  };
}

export function toWireToolCall(call: ToolCall): WireToolCall {
  return { id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } };
}

export interface TokenCounts {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
}

export function toUsage(c: TokenCounts, prices: Prices): Usage {
  return {
    prompt_tokens: c.promptTokens,
    completion_tokens: c.completionTokens,
    total_tokens: c.promptTokens + c.completionTokens,
    estimated_cost: picoToUsd(costPicoUsd(c.promptTokens, c.completionTokens, prices)),
    prompt_tokens_details: { cached_tokens: c.cachedTokens },
  };
}

/** Builds the chunks of one streamed completion: same id, created and model on every chunk. */
export class ChunkFactory {
  readonly created = Math.floor(Date.now() / 1000);
  constructor(
    readonly id: string,
    readonly model: string,
  ) {}

  private chunk(choices: ChatCompletionChunk["choices"], usage?: Usage): ChatCompletionChunk {
    const c: ChatCompletionChunk = {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
      choices,
    };
    if (usage) c.usage = usage;
    return c;
  }
  role(index: number): ChatCompletionChunk {
    return this.chunk([{ index, delta: { role: "assistant", content: "" }, finish_reason: null, logprobs: null }]);
  }
  content(index: number, text: string, logprobs?: readonly TokenLogprob[]): ChatCompletionChunk {
    return this.chunk([
      { index, delta: { content: text }, finish_reason: null, logprobs: logprobs ? toChoiceLogprobs(logprobs) : null },
    ]);
  }
  toolCall(index: number, callIndex: number, id: string, name: string): ChatCompletionChunk {
    const call = { index: callIndex, id, type: "function" as const, function: { name, arguments: "" } };
    return this.chunk([{ index, delta: { tool_calls: [call] }, finish_reason: null, logprobs: null }]);
  }
  toolArguments(index: number, callIndex: number, text: string): ChatCompletionChunk {
    return this.chunk([
      {
        index,
        delta: { tool_calls: [{ index: callIndex, function: { arguments: text } }] },
        finish_reason: null,
        logprobs: null,
      },
    ]);
  }
  finish(index: number, reason: FinishReason, usage?: Usage): ChatCompletionChunk {
    return this.chunk([{ index, delta: {}, finish_reason: reason, logprobs: null }], usage);
  }
  usage(usage: Usage): ChatCompletionChunk {
    return this.chunk([], usage);
  }
}
