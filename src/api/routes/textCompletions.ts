import type { Context } from "hono";
import type { Usage } from "../protocol/chatCompletionResponse.js";
import type { ApiDeps, AppEnv } from "../deps.js";
import { unsupportedField } from "../errors.js";
import { clientAbortSignal } from "../middleware/clientAbort.js";
import { readJsonBody } from "../middleware/readJsonBody.js";
import { COMPLETION_FIELDS, type TextCompletionChoice, completionRequestSchema } from "../protocol/completionRequest.js";
import { parseWith } from "../protocol/parseWith.js";
import { newCompletionId } from "../translate/toChatCompletion.js";
import { toSampling, toStopSequences } from "../translate/toGenerationRequest.js";
import { type CompletionFormat, runCompletion } from "./completionRunner.js";
import { reportIgnored } from "./reportIgnored.js";

function textFormat(id: string, model: string): CompletionFormat {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: TextCompletionChoice[], usage?: Usage) => ({
    id,
    object: "text_completion",
    created,
    model,
    choices,
    ...(usage ? { usage } : {}),
  });
  return {
    id,
    opening: () => null,
    content: (index, text) => chunk([{ index, text, logprobs: null, finish_reason: null }]),
    finish: (index, reason, usage) => chunk([{ index, text: "", logprobs: null, finish_reason: reason }], usage),
    usageOnly: (usage) => chunk([], usage),
    body: (choices, usage) =>
      chunk(
        choices.map((ch, index) => ({ index, text: ch.text, logprobs: null, finish_reason: ch.finishReason ?? "stop" })),
        usage,
      ),
  };
}

/** POST /v1/openai/completions and /v1/completions: raw-prompt text completion. */
export function textCompletionsHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const engine = deps.engine();
    const body = await readJsonBody(c);
    const req = parseWith(completionRequestSchema, body);
    const modelId = deps.resolveModel(req.model);
    if (req.echo === true) throw unsupportedField("echo");
    if (req.logprobs !== undefined && req.logprobs !== null) throw unsupportedField("logprobs");
    if (req.suffix) throw unsupportedField("suffix");
    reportIgnored(c, deps, body, COMPLETION_FIELDS);
    const prompt = typeof req.prompt === "string" ? req.prompt : (req.prompt[0] ?? "");
    const signal = clientAbortSignal(c, deps.requestTimeoutMs);
    return runCompletion(c, deps, {
      generation: {
        model: modelId,
        prompt: { type: "text", text: prompt },
        maxTokens: req.max_completion_tokens ?? req.max_tokens ?? undefined,
        stopSequences: toStopSequences(req.stop),
        choices: req.n ?? 1,
        sampling: toSampling(req, (t) => engine.tokenize(t, false), deps.samplingDefaults),
        signal,
      },
      stream: req.stream === true,
      includeUsage: req.stream_options?.include_usage === true,
      user: req.user ?? null,
      format: textFormat(newCompletionId("cmpl"), req.model),
    });
  };
}
