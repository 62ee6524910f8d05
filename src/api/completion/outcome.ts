import type { GenerationEvent, GenerationRequest, TokenLogprob, ToolCall } from "../../engine/types.js";
import type { FinishReason, Usage } from "../protocol/chatCompletionResponse.js";

export type StartEvent = Extract<GenerationEvent, { type: "start" }>;

/** The outcome of one request, for the usage ledger, the metrics and the log. */
export interface CompletionOutcome {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  /** Each choice's finish reason, comma-separated ("aborted" for one that never finished). */
  finishReason: string;
}

export interface ChoiceState {
  text: string;
  finishReason: FinishReason | null;
  completionTokens: number;
  toolCalls: ToolCall[];
  /** Null unless logprobs were asked for. */
  logprobs: TokenLogprob[] | null;
}

/** How one endpoint (chat, text or llama.cpp's native completions) shapes its responses. */
export interface CompletionFormat {
  id: string;
  /** Chunks sent before any content (chat: the role delta; text: an echoed prompt). */
  opening(index: number, start: StartEvent): unknown | null;
  content(index: number, text: string, logprobs: readonly TokenLogprob[] | undefined): unknown;
  /** Chat only: a tool call's id and name, then fragments of its arguments. */
  toolCall?(index: number, callIndex: number, id: string, name: string): unknown;
  toolArguments?(index: number, callIndex: number, text: string): unknown;
  finish(index: number, reason: FinishReason, usage: Usage | undefined): unknown;
  usageOnly(usage: Usage): unknown;
  body(choices: readonly ChoiceState[], usage: Usage, start: StartEvent): unknown;
  /** Whether a stream ends with `data: [DONE]` (OpenAI's endpoints; llama.cpp's native one does not). */
  doneMarker?: boolean;
}

export interface CompletionRun {
  generation: GenerationRequest;
  stream: boolean;
  includeUsage: boolean;
  user: string | null;
  format: CompletionFormat;
}
