import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { clientAbortSignal } from "../middleware/clientAbort.js";
import { readJsonBody } from "../middleware/readJsonBody.js";
import { setHeader } from "../nodeHttp.js";
import { LLAMA_COMPLETION_FIELDS, llamaCompletionRequestSchema } from "../protocol/llamaCompletionRequest.js";
import { parseWith } from "../protocol/parseWith.js";
import { newCompletionId } from "../translate/toChatCompletion.js";
import { toCompletionProbabilities, toLlamaGeneration, toStopType, toTimings } from "../translate/toLlamaCompletion.js";
import type { CompletionFormat } from "../completion/outcome.js";
import { runCompletion } from "../completion/runCompletion.js";
import { LLAMA_SCHEMA_PARAMS, withWireParams } from "../translate/toWireParam.js";

/** llama-server's reply shapes: a stream of `{content, stop: false}` chunks, then one with `stop: true`, timings and counts. */
function llamaFormat(id: string, model: string, nProbs: number): CompletionFormat {
  const started = performance.now();
  let firstAt: number | null = null;
  let predicted = 0;
  const timings = (promptTokens: number, completionTokens: number) => {
    const now = performance.now();
    const first = firstAt ?? now;
    return toTimings(promptTokens, first - started, completionTokens, now - first);
  };
  const final = (
    content: string,
    reason: Parameters<typeof toStopType>[0],
    usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } },
  ) => ({
    index: 0,
    content,
    tokens: [],
    id_slot: -1,
    stop: true,
    model,
    tokens_predicted: usage.completion_tokens,
    tokens_evaluated: usage.prompt_tokens,
    tokens_cached: usage.prompt_tokens_details.cached_tokens,
    stop_type: toStopType(reason),
    stopping_word: "",
    truncated: false,
    has_new_line: content.includes("\n"),
    timings: timings(usage.prompt_tokens, usage.completion_tokens),
  });
  return {
    id,
    doneMarker: false,
    opening: () => null,
    content: (_i, text, logprobs) => {
      firstAt ??= performance.now();
      predicted += logprobs?.length ?? 1;
      return {
        index: 0,
        content: text,
        tokens: [],
        stop: false,
        id_slot: -1,
        tokens_predicted: predicted,
        ...(nProbs > 0 && logprobs ? { completion_probabilities: toCompletionProbabilities(logprobs) } : {}),
      };
    },
    finish: (_i, reason, usage) =>
      usage
        ? final("", reason, usage)
        : { index: 0, content: "", tokens: [], stop: true, id_slot: -1, stop_type: toStopType(reason) },
    usageOnly: () => null,
    body: (choices, usage) => {
      const ch = choices[0];
      return {
        ...final(ch?.text ?? "", ch?.finishReason ?? null, usage),
        ...(nProbs > 0 ? { completion_probabilities: toCompletionProbabilities(ch?.logprobs ?? []) } : {}),
      };
    },
  };
}

/**
 * POST /completion: llama.cpp's native text completion (SillyTavern's "llama.cpp" type, other
 * llama.cpp front-ends), on the same engine path as every other request: keys, limits, one
 * ledger row.
 */
export function llamaCompletionHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const engine = deps.engine();
    const body = await readJsonBody(c);
    const req = parseWith(llamaCompletionRequestSchema, body);
    const signal = clientAbortSignal(c, deps.requestTimeoutMs);
    const { generation, ignored } = toLlamaGeneration(req, engine.model.id, signal);
    const unknown = Object.keys(body).filter((k) => !LLAMA_COMPLETION_FIELDS.has(k));
    const named = [...unknown, ...ignored];
    if (named.length > 0) {
      setHeader(c, "x-lunaris-ignored-params", named.join(","));
      deps.log.info({ req_id: c.get("requestId"), ignored: named }, "ignored request fields");
    }
    return runCompletion(c, deps, {
      generation,
      stream: req.stream === true,
      includeUsage: false,
      user: null,
      format: llamaFormat(newCompletionId("cmpl"), engine.model.id, req.n_probs ?? 0),
    }).catch(withWireParams(LLAMA_SCHEMA_PARAMS));
  };
}
