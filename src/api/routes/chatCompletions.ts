import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { clientAbortSignal } from "../middleware/clientAbort.js";
import { readJsonBody } from "../middleware/readJsonBody.js";
import {
  type ChatCompletionRequest,
  KNOWN_FIELDS,
  chatCompletionRequestSchema,
} from "../protocol/chatCompletionRequest.js";
import type { ChatCompletion } from "../protocol/chatCompletionResponse.js";
import { parseWith } from "../protocol/parseWith.js";
import { ChunkFactory, newCompletionId, toChoiceLogprobs, toWireToolCall } from "../translate/toChatCompletion.js";
import { toGenerationRequest } from "../translate/toGenerationRequest.js";
import type { CompletionFormat } from "../completion/outcome.js";
import { runCompletion } from "../completion/runCompletion.js";
import { reportIgnored } from "./reportIgnored.js";
import { CHAT_SCHEMA_PARAMS, withWireParams } from "../translate/toWireParam.js";

function chatFormat(id: string, model: string): CompletionFormat {
  const chunks = new ChunkFactory(id, model);
  return {
    id,
    opening: (i) => chunks.role(i),
    content: (i, text, logprobs) => chunks.content(i, text, logprobs),
    toolCall: (i, callIndex, callId, name) => chunks.toolCall(i, callIndex, callId, name),
    toolArguments: (i, callIndex, text) => chunks.toolArguments(i, callIndex, text),
    finish: (i, reason, usage) => chunks.finish(i, reason, usage),
    usageOnly: (usage) => chunks.usage(usage),
    body: (choices, usage): ChatCompletion => ({
      id,
      object: "chat.completion",
      created: chunks.created,
      model,
      choices: choices.map((ch, index) => ({
        index,
        message:
          ch.toolCalls.length > 0
            ? {
                role: "assistant",
                content: ch.text === "" ? null : ch.text,
                refusal: null,
                tool_calls: ch.toolCalls.map(toWireToolCall),
              }
            : { role: "assistant", content: ch.text, refusal: null },
        finish_reason: ch.finishReason ?? "stop",
        logprobs: ch.logprobs ? toChoiceLogprobs(ch.logprobs) : null,
      })),
      usage,
    }),
  };
}

/** POST /v1/openai/chat/completions and /v1/chat/completions. */
export function chatCompletionsHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    deps.engine(); // 503 while the model loads, before reading the body
    const body = await readJsonBody(c);
    const req: ChatCompletionRequest = parseWith(chatCompletionRequestSchema, body);
    const modelId = deps.resolveModel(req.model);
    reportIgnored(c, deps, body, KNOWN_FIELDS);
    const signal = clientAbortSignal(c, deps.requestTimeoutMs);
    const generation = toGenerationRequest(req, modelId, signal, deps.samplingDefaults);
    return runCompletion(c, deps, {
      generation,
      stream: req.stream === true,
      includeUsage: req.stream_options?.include_usage === true,
      user: req.user ?? null,
      format: chatFormat(newCompletionId(), req.model),
    }).catch(withWireParams(CHAT_SCHEMA_PARAMS));
  };
}
