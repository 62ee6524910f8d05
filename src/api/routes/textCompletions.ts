import type { Context } from "hono";
import type { PromptInput } from "../../engine/types.js";
import type { FinishReason, Usage } from "../protocol/chatCompletionResponse.js";
import type { ApiDeps, AppEnv } from "../deps.js";
import { unsupportedField } from "../errors.js";
import { clientAbortSignal } from "../middleware/clientAbort.js";
import { readJsonBody } from "../middleware/readJsonBody.js";
import {
  COMPLETION_FIELDS,
  type CompletionRequest,
  type LegacyLogprobs,
  type TextCompletionChoice,
  completionRequestSchema,
} from "../protocol/completionRequest.js";
import { parseWith } from "../protocol/parseWith.js";
import { newCompletionId } from "../translate/toChatCompletion.js";
import { toSampling, toStopSequences } from "../translate/toGenerationRequest.js";
import { concatLegacyLogprobs, toLegacyLogprobs } from "../translate/toTextCompletion.js";
import type { CompletionFormat, StartEvent } from "../completion/outcome.js";
import { runCompletion } from "../completion/runCompletion.js";
import { reportIgnored } from "./reportIgnored.js";

interface TextOptions {
  /** The prompt's text, returned before each completion when `echo` is set. */
  echo: string | null;
  logprobs: boolean;
}

/**
 * The echoed prompt's logprobs, as scored by the engine, with OpenAI's null for the prompt's
 * first token: when the engine added a hidden BOS it scored that token after the BOS, a number
 * no OpenAI client expects there.
 */
function promptLogprobs(start: StartEvent): LegacyLogprobs {
  const [first, ...rest] = start.promptLogprobs ?? [];
  return toLegacyLogprobs(first ? [{ ...first, logprob: null, top: [] }, ...rest] : [], 0);
}

function textFormat(id: string, model: string, o: TextOptions): CompletionFormat {
  const created = Math.floor(Date.now() / 1000);
  // Streamed logprobs continue their text_offset across chunks, per choice.
  const offsets = new Map<number, number>();
  const chunk = (choices: TextCompletionChoice[], usage?: Usage) => ({
    id,
    object: "text_completion",
    created,
    model,
    choices,
    ...(usage ? { usage } : {}),
  });
  const finishReason = (r: FinishReason | null): TextCompletionChoice["finish_reason"] =>
    r === "length" ? "length" : "stop";
  return {
    id,
    opening: (index, start) => {
      if (o.echo === null) return null;
      const logprobs = o.logprobs ? promptLogprobs(start) : null;
      offsets.set(index, o.echo.length);
      return chunk([{ index, text: o.echo, logprobs, finish_reason: null }]);
    },
    content: (index, text, entries) => {
      const at = offsets.get(index) ?? 0;
      offsets.set(index, at + text.length);
      return chunk([{ index, text, logprobs: entries ? toLegacyLogprobs(entries, at) : null, finish_reason: null }]);
    },
    finish: (index, reason, usage) =>
      chunk([{ index, text: "", logprobs: null, finish_reason: finishReason(reason) }], usage),
    usageOnly: (usage) => chunk([], usage),
    body: (choices, usage, start) =>
      chunk(
        choices.map((ch, index) => {
          const prefix = o.echo ?? "";
          let logprobs: LegacyLogprobs | null = null;
          if (ch.logprobs) {
            const generated = toLegacyLogprobs(ch.logprobs, prefix.length);
            logprobs = o.echo !== null ? concatLegacyLogprobs(promptLogprobs(start), generated) : generated;
          }
          return { index, text: prefix + ch.text, logprobs, finish_reason: finishReason(ch.finishReason) };
        }),
        usage,
      ),
  };
}

function toPrompt(p: CompletionRequest["prompt"]): Exclude<PromptInput, { type: "chat" }> {
  if (typeof p === "string") return { type: "text", text: p };
  const [first] = p;
  if (typeof first === "string") return { type: "text", text: first };
  if (Array.isArray(first)) return { type: "tokens", tokens: first };
  return { type: "tokens", tokens: p as number[] };
}

/** POST /v1/openai/completions and /v1/completions: raw-prompt text completion. */
export function textCompletionsHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const engine = deps.engine();
    const body = await readJsonBody(c);
    const req = parseWith(completionRequestSchema, body);
    const modelId = deps.resolveModel(req.model);
    if (req.suffix) throw unsupportedField("suffix", "Llama 3 models have no fill-in-the-middle format.");
    if (req.best_of !== undefined && req.best_of !== null && req.best_of !== (req.n ?? 1)) {
      throw unsupportedField("best_of", "choices are returned as generated; use n.");
    }
    reportIgnored(c, deps, body, COMPLETION_FIELDS);
    const prompt = toPrompt(req.prompt);
    const echo =
      req.echo === true ? (prompt.type === "text" ? prompt.text : await engine.detokenize(prompt.tokens)) : null;
    const wantLogprobs = req.logprobs !== undefined && req.logprobs !== null;
    const signal = clientAbortSignal(c, deps.requestTimeoutMs);
    return runCompletion(c, deps, {
      generation: {
        model: modelId,
        prompt,
        maxTokens: req.max_completion_tokens ?? req.max_tokens ?? undefined,
        stopSequences: toStopSequences(req.stop),
        choices: req.n ?? 1,
        sampling: toSampling(req, deps.samplingDefaults),
        logprobs: wantLogprobs ? { top: req.logprobs ?? 0 } : undefined,
        promptLogprobs: wantLogprobs && echo !== null,
        reproducible: req.seed !== undefined && req.seed !== null,
        signal,
      },
      stream: req.stream === true,
      includeUsage: req.stream_options?.include_usage === true,
      user: req.user ?? null,
      format: textFormat(newCompletionId("cmpl"), req.model, { echo, logprobs: wantLogprobs }),
    });
  };
}
