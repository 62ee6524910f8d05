import { z } from "zod";
import { ENGINE_ERROR_CODES, EngineError, type EngineErrorCode } from "../errors.js";
import type { EngineStats, GenerationEvent, GenerationRequest, ModelDescriptor } from "../types.js";

/**
 * The engine protocol between a gateway and a Lunaris node (`lunaris serve --role engine`): the
 * `Engine` interface over HTTP. A `GenerationRequest` goes in as JSON; `GenerationEvent`s come
 * back as NDJSON, one per line, ending with the last `end` or one `error` line. Requests that
 * cannot start fail with a status and `{error:{code,message,param}}` before the first line.
 * Authenticated by the cluster secret as a Bearer token, never by user keys.
 */
export const NODE_PATHS = {
  generate: "/engine/v1/generate",
  tokenize: "/engine/v1/tokenize",
  detokenize: "/engine/v1/detokenize",
  info: "/engine/v1/info",
  health: "/health",
} as const;

export const NDJSON = "application/x-ndjson";

/** What `GET /engine/v1/info` answers: enough for a gateway to describe and route to the node. */
export interface NodeInfo {
  model: ModelDescriptor;
  modelInfo: { chatTemplate: string | null; bosToken: string; eosToken: string } | null;
  stats: EngineStats;
}

/** A failure after the stream started, as its last line. */
export interface ErrorLine {
  type: "error";
  code: EngineErrorCode;
  message: string;
  param: string | null;
}

/**
 * JSON has no infinities: a banned token's bias and a zero probability's logprob are -Infinity.
 * They travel as the string "-Infinity" in the two places they occur.
 */
const NEG_INF = "-Infinity";
const finite = (v: number): number | string => (Number.isFinite(v) ? v : v < 0 ? NEG_INF : String(v));
const number = z.union([z.number(), z.literal(NEG_INF).transform(() => Number.NEGATIVE_INFINITY)]);

const message = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string(),
  toolCalls: z.array(z.object({ id: z.string(), name: z.string(), arguments: z.string() })).optional(),
});

const requestSchema = z.object({
  model: z.string(),
  prompt: z.discriminatedUnion("type", [
    z.object({ type: z.literal("chat"), messages: z.array(message) }),
    z.object({ type: z.literal("text"), text: z.string() }),
    z.object({ type: z.literal("tokens"), tokens: z.array(z.number().int().min(0)) }),
  ]),
  maxTokens: z.number().int().min(0).optional(),
  stopSequences: z.array(z.string()),
  choices: z.number().int().min(1).max(16),
  sampling: z.object({
    temperature: z.number(),
    topP: z.number(),
    topK: z.number().int(),
    minP: z.number(),
    seed: z.number().int(),
    presencePenalty: z.number(),
    frequencyPenalty: z.number(),
    repetitionPenalty: z.number(),
    penaltyLastN: z.number().int().optional(),
    dry: z
      .object({
        multiplier: z.number(),
        base: z.number(),
        allowedLength: z.number().int(),
        lastN: z.number().int().optional(),
        sequenceBreakers: z.array(z.string()),
      })
      .optional(),
    xtc: z.object({ probability: z.number(), threshold: z.number() }).optional(),
    logitBias: z.array(z.tuple([z.number().int().min(0), number])).optional(),
    bannedStrings: z.array(z.string()).optional(),
    ignoreEos: z.boolean().optional(),
    minTokens: z.number().int().optional(),
  }),
  tools: z
    .object({
      tools: z.array(z.object({ name: z.string(), description: z.string().optional(), parameters: z.unknown() })),
      choice: z.union([
        z.object({ type: z.literal("auto") }),
        z.object({ type: z.literal("required") }),
        z.object({ type: z.literal("function"), name: z.string() }),
      ]),
      parallel: z.boolean(),
    })
    .optional(),
  format: z
    .union([
      z.object({ type: z.literal("jsonObject") }),
      z.object({ type: z.literal("jsonSchema"), schema: z.unknown() }),
    ])
    .optional(),
  logprobs: z.object({ top: z.number().int().min(0).max(20) }).optional(),
  reproducible: z.boolean().optional(),
  promptLogprobs: z.boolean().optional(),
});

/** A request as the node receives it (the abort signal stays behind: a closed connection is the abort). */
export function encodeRequest(r: GenerationRequest): string {
  const { signal: _signal, ...rest } = r;
  const logitBias = r.sampling.logitBias ? [...r.sampling.logitBias].map(([t, b]) => [t, finite(b)]) : undefined;
  return JSON.stringify({ ...rest, sampling: { ...r.sampling, logitBias } });
}

/** The node's side: a checked request, or an EngineError naming the field. */
export function decodeRequest(body: unknown): GenerationRequest {
  const r = requestSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new EngineError(
      "unsupported_parameter",
      `Malformed engine request at ${issue?.path.join(".")}: ${issue?.message}`,
      issue?.path.join(".") ?? null,
    );
  }
  const { sampling, ...rest } = r.data;
  return {
    ...rest,
    maxTokens: rest.maxTokens,
    tools: r.data.tools as GenerationRequest["tools"],
    format: r.data.format as GenerationRequest["format"],
    sampling: {
      ...sampling,
      dry: sampling.dry ? { ...sampling.dry, lastN: sampling.dry.lastN } : undefined,
      logitBias: sampling.logitBias ? new Map(sampling.logitBias) : undefined,
    },
  };
}

/** Only events carrying log-probabilities pay for the replacer and the reviver (the hop's cost is per event). */
const carriesLogprobs = (ev: GenerationEvent | ErrorLine): boolean =>
  (ev.type === "text" && ev.logprobs !== undefined) || (ev.type === "start" && ev.promptLogprobs !== undefined);

export function encodeEvent(ev: GenerationEvent | ErrorLine): string {
  if (!carriesLogprobs(ev)) return `${JSON.stringify(ev)}\n`;
  return `${JSON.stringify(ev, (key, v: unknown) => (key === "logprob" && typeof v === "number" ? finite(v) : v))}\n`;
}

export function decodeEvent(line: string): GenerationEvent | ErrorLine {
  if (!line.includes('"logprob')) return JSON.parse(line) as GenerationEvent | ErrorLine;
  return JSON.parse(line, (key, v: unknown) => (key === "logprob" && v === NEG_INF ? Number.NEGATIVE_INFINITY : v)) as
    | GenerationEvent
    | ErrorLine;
}

/** An error as a node reports it: before the stream in the body, after it as the last line. */
export function errorLine(e: EngineError): ErrorLine {
  return { type: "error", code: e.code, message: e.message, param: e.param };
}

export function isEngineErrorCode(code: unknown): code is EngineErrorCode {
  return typeof code === "string" && (ENGINE_ERROR_CODES as readonly string[]).includes(code);
}
