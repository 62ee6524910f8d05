import fc from "fast-check";

/**
 * Hostile request bodies for the chat API, generated from the request schema's fields and
 * their ranges, then mutated: values in and out of range, wrong types, dropped and unknown
 * fields, random JSON Schemas and regexes, every sampler extension at its edges. Used by the
 * bounded property test in CI (test/http/fuzz.test.ts) and by `npm run soak`.
 */

export const MODEL = "Sao10K/L3-8B-Lunaris-v1";

const edgeNumber = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    0.5,
    2,
    2.0001,
    -2.0001,
    100,
    101,
    -101,
    1e9,
    -1e9,
    2 ** 31,
    2 ** 53,
    1e308,
    Number.MIN_VALUE,
  ),
  fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -5, max: 2_000 }),
);
const junk = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
const text = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.constantFrom("", " ", "<|eot_id|>", "<|begin_of_text|>", "\u0000", "\ud800", '{"', "🙂".repeat(20)),
);

const regexes = [
  "^[a-z]+$",
  "^\\d{3}-\\d{4}$",
  "a{2001}",
  "^(.*){1,1000}$",
  "^(a*)*$",
  "(",
  "[z-a]",
  "^(?=x)",
  "\\bword\\b",
  "^[\\w.]+@[\\w.]+$",
  "^(a|b|c){5,10}$",
  ".*",
  "^\\p{L}+$",
  '^[^"\\\\]{0,5000}$',
  "^x{0,100}y{0,100}z{0,100}$",
  "(?<n>a)\\k<n>",
];

/** Random JSON Schemas, well-formed or not, up to a small depth. */
export const schemaArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  schema: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record(
      {
        type: fc.constantFrom("string", "integer", "number", "boolean", "null", "object", "array", "nope", [
          "string",
          "null",
        ]),
        minLength: edgeNumber,
        maxLength: edgeNumber,
        minimum: edgeNumber,
        maximum: edgeNumber,
        exclusiveMinimum: fc.oneof(edgeNumber, fc.boolean()),
        pattern: fc.constantFrom(...regexes),
        format: fc.constantFrom("date", "time", "date-time", "uuid", "email", "ipv4", "hostname"),
        enum: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 6 }),
        const: fc.jsonValue({ maxDepth: 1 }),
        nullable: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    fc.record(
      {
        type: fc.constant("object"),
        properties: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie("schema"), { maxKeys: 4 }),
        required: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
        additionalProperties: fc.oneof(fc.boolean(), tie("schema")),
        minProperties: edgeNumber,
        maxProperties: edgeNumber,
      },
      { requiredKeys: ["type"] },
    ),
    fc.record(
      {
        type: fc.constant("array"),
        items: tie("schema"),
        prefixItems: fc.array(tie("schema"), { maxLength: 2 }),
        minItems: edgeNumber,
        maxItems: edgeNumber,
      },
      { requiredKeys: ["type"] },
    ),
    fc.record({ anyOf: fc.array(tie("schema"), { maxLength: 3 }) }),
    fc.record({ allOf: fc.array(tie("schema"), { maxLength: 2 }) }),
    fc.constantFrom(
      { $ref: "#" },
      { $ref: "#/$defs/x" },
      { $ref: "http://x" },
      { not: {} },
      true,
      false,
      {},
      null,
      "string",
      7,
    ),
  ),
})).schema;

const message = fc.oneof(
  fc.record({ role: fc.constantFrom("system", "developer", "user", "assistant"), content: text }),
  fc.record({
    role: fc.constantFrom("user", "assistant"),
    content: fc.array(
      fc.oneof(
        fc.record({ type: fc.constant("text"), text }),
        fc.record({ type: fc.constant("image_url"), image_url: fc.record({ url: text }) }),
      ),
      { maxLength: 3 },
    ),
  }),
  fc.record({
    role: fc.constant("assistant"),
    content: fc.constant(null),
    tool_calls: fc.array(
      fc.record({
        id: fc.string({ maxLength: 6 }),
        type: fc.constant("function"),
        function: fc.record({
          name: fc.string({ maxLength: 8 }),
          arguments: fc.oneof(fc.constant("{}"), fc.json(), text),
        }),
      }),
      { maxLength: 2 },
    ),
  }),
  fc.record({ role: fc.constant("tool"), content: text, tool_call_id: fc.string({ maxLength: 6 }) }),
  fc.record({ role: fc.constantFrom("wizard", ""), content: text }),
);

const toolArb = fc.record({
  type: fc.constantFrom("function", "function", "retrieval"),
  function: fc.record(
    {
      name: fc.oneof(fc.constantFrom("get_weather", "f", "a-b_c"), fc.string({ maxLength: 70 })),
      description: text,
      parameters: schemaArb,
    },
    { requiredKeys: ["name"] },
  ),
});

/** A body whose fields are drawn from the request schema, in range or not. */
const fieldsArb = fc.record(
  {
    model: fc.oneof(
      fc.constant(MODEL),
      fc.constant(MODEL),
      fc.constantFrom("gpt-4", "", "Sao10K/L3-8B-LUNARIS-v1"),
      junk,
    ),
    messages: fc.oneof(fc.array(message, { minLength: 1, maxLength: 4 }), fc.constant([]), junk),
    stream: fc.oneof(fc.boolean(), junk),
    stream_options: fc.record({ include_usage: fc.boolean() }),
    temperature: edgeNumber,
    top_p: edgeNumber,
    min_p: edgeNumber,
    top_k: edgeNumber,
    max_tokens: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), edgeNumber, junk),
    stop: fc.oneof(text, fc.array(text, { maxLength: 18 }), junk),
    n: fc.oneof(fc.integer({ min: 1, max: 4 }), edgeNumber),
    presence_penalty: edgeNumber,
    frequency_penalty: edgeNumber,
    repetition_penalty: edgeNumber,
    seed: fc.oneof(fc.integer(), edgeNumber),
    user: fc.oneof(text, junk),
    tools: fc.oneof(fc.array(toolArb, { maxLength: 3 }), junk),
    tool_choice: fc.oneof(
      fc.constantFrom("none", "auto", "required", "sometimes"),
      fc.record({
        type: fc.constant("function"),
        function: fc.record({ name: fc.constantFrom("get_weather", "f", "missing") }),
      }),
    ),
    parallel_tool_calls: fc.oneof(fc.boolean(), junk),
    response_format: fc.oneof(
      fc.record({ type: fc.constantFrom("text", "json_object", "yaml") }),
      fc.record({
        type: fc.constant("json_schema"),
        json_schema: fc.record(
          { name: fc.string({ maxLength: 8 }), schema: schemaArb, strict: fc.boolean() },
          { requiredKeys: [] },
        ),
      }),
    ),
    logprobs: fc.oneof(fc.boolean(), junk),
    top_logprobs: edgeNumber,
    logit_bias: fc.oneof(
      fc.dictionary(
        fc.oneof(fc.integer({ min: 0, max: 130_000 }).map(String), fc.string({ maxLength: 4 })),
        edgeNumber,
        { maxKeys: 8 },
      ),
      fc.array(fc.tuple(fc.integer({ min: -1, max: 130_000 }), fc.oneof(edgeNumber, fc.constant(false))), {
        maxLength: 8,
      }),
      junk,
    ),
    dry_multiplier: edgeNumber,
    dry_base: edgeNumber,
    dry_allowed_length: edgeNumber,
    dry_penalty_last_n: fc.oneof(edgeNumber, fc.constant(500_000_000)),
    dry_sequence_breakers: fc.oneof(
      fc.array(text, { maxLength: 10 }),
      fc.constantFrom('["\\n", ":"]', "nope", "[1,2]"),
      junk,
    ),
    xtc_probability: edgeNumber,
    xtc_threshold: edgeNumber,
    repetition_penalty_range: edgeNumber,
    repeat_last_n: edgeNumber,
    ignore_eos: fc.oneof(fc.boolean(), junk),
    min_tokens: edgeNumber,
    banned_tokens: fc.oneof(
      fc.array(fc.oneof(fc.integer({ min: -1, max: 130_000 }), text), { maxLength: 6 }),
      text,
      junk,
    ),
    typical_p: edgeNumber,
    mirostat: edgeNumber,
    unknown_field: junk,
  },
  { requiredKeys: [] },
);

const FIELD_NAMES = [
  "model",
  "messages",
  "stream",
  "stream_options",
  "temperature",
  "top_p",
  "min_p",
  "top_k",
  "max_tokens",
  "stop",
  "n",
  "presence_penalty",
  "frequency_penalty",
  "repetition_penalty",
  "seed",
  "user",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "response_format",
  "logprobs",
  "top_logprobs",
  "logit_bias",
  "dry_multiplier",
  "dry_base",
  "dry_allowed_length",
  "dry_penalty_last_n",
  "dry_sequence_breakers",
  "xtc_probability",
  "xtc_threshold",
  "repetition_penalty_range",
  "repeat_last_n",
  "ignore_eos",
  "min_tokens",
  "banned_tokens",
  "typical_p",
  "mirostat",
  "unknown_field",
];

/** A valid core with a few drawn fields on top: most bodies reach the engine, each with a handful of edges. */
const coreArb = fc.tuple(fieldsArb, fc.subarray(FIELD_NAMES, { minLength: 1, maxLength: 4 })).map(([f, keys]) => {
  const body: Record<string, unknown> = { model: MODEL, messages: [{ role: "user", content: "Hi" }], max_tokens: 4 };
  for (const k of keys) if (k in f) body[k] = (f as Record<string, unknown>)[k];
  return body;
});

/** A hostile body: a valid core with drawn fields, all fields drawn at once, or not a chat body at all. */
export const bodyArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: coreArb },
  { weight: 2, arbitrary: fieldsArb },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"model":',
      "[]",
      "null",
      "\u0000",
      "{}{}",
      '{"model":"x","messages":[' + "[".repeat(5000),
    ),
  },
);

/** Keeps generation short whatever was drawn: the campaign is about inputs, not output length. */
export function bounded(body: unknown): unknown {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
  const b = { ...(body as Record<string, unknown>) };
  if (typeof b.max_tokens === "number" && b.max_tokens > 8 && b.max_tokens <= 1e6) b.max_tokens = 8;
  if (b.max_tokens === undefined || b.max_tokens === null) b.max_tokens = 8;
  if (typeof b.min_tokens === "number" && b.min_tokens > 8) b.min_tokens = 8;
  return b;
}

export interface Outcome {
  status: number;
  /** A problem with the response: a 5xx, a body not in OpenAI's shape, a broken stream. */
  problem: string | null;
}

/** Sends one body and checks the answer's shape: never a 5xx, every error OpenAI-shaped, streams ending with [DONE]. */
export async function sendAndCheck(url: string, key: string, body: unknown): Promise<Outcome> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const raw = await res.text();
  if (res.status >= 500) return { status: res.status, problem: `${res.status}: ${raw.slice(0, 300)}` };
  if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    const events = raw.split("\n\n").filter((e) => e.startsWith("data: "));
    if (events.at(-1) !== "data: [DONE]")
      return { status: res.status, problem: `stream without [DONE]: ${raw.slice(-200)}` };
    const error = events.find((e) => e.startsWith('data: {"error"'));
    if (error) return { status: res.status, problem: `error mid-stream: ${error.slice(0, 300)}` };
    return { status: res.status, problem: null };
  }
  let json: { error?: Record<string, unknown> };
  try {
    json = JSON.parse(raw) as typeof json;
  } catch {
    return { status: res.status, problem: `not JSON: ${raw.slice(0, 200)}` };
  }
  if (res.status >= 400) {
    const keys = Object.keys(json.error ?? {})
      .sort()
      .join(",");
    if (keys !== "code,message,param,type")
      return { status: res.status, problem: `error not OpenAI-shaped: ${raw.slice(0, 200)}` };
  }
  return { status: res.status, problem: null };
}
