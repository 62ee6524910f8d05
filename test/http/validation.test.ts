import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { MAX_BODY_BYTES } from "../../src/api/middleware/readJsonBody.js";
import { MODEL_ID, type TestServer, readJson, startTestServer } from "../helpers/testServer.js";

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ apiKeys: ["sk-valid"], ctxSize: 256 });
});
after(async () => {
  await srv.close();
});

const ok = { model: MODEL_ID, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 };

interface Case {
  name: string;
  body: unknown;
  status: number;
  param: string | null;
  code?: string;
  message?: RegExp;
}

const cases: Case[] = [
  { name: "malformed JSON", body: '{"model": ', status: 400, param: null, code: "invalid_json" },
  { name: "a JSON array body", body: "[]", status: 400, param: null },
  {
    name: "missing model",
    body: { messages: ok.messages },
    status: 400,
    param: "model",
    code: "missing_required_parameter",
  },
  { name: "model of the wrong type", body: { ...ok, model: 5 }, status: 400, param: "model" },
  { name: "unknown model", body: { ...ok, model: "gpt-4" }, status: 404, param: "model", code: "model_not_found" },
  { name: "missing messages", body: { model: MODEL_ID }, status: 400, param: "messages" },
  { name: "empty messages", body: { ...ok, messages: [] }, status: 400, param: "messages" },
  { name: "messages not an array", body: { ...ok, messages: "hi" }, status: 400, param: "messages" },
  {
    name: "unknown role",
    body: { ...ok, messages: [{ role: "wizard", content: "x" }] },
    status: 400,
    param: "messages[0].role",
  },
  {
    name: "user message without content",
    body: { ...ok, messages: [{ role: "user" }] },
    status: 400,
    param: "messages[0].content",
  },
  {
    name: "content of the wrong type",
    body: { ...ok, messages: [{ role: "user", content: 42 }] },
    status: 400,
    param: "messages[0].content",
  },
  {
    name: "an image part",
    body: { ...ok, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
    status: 400,
    param: "messages[0].content[0]",
    message: /text only/,
  },
  {
    name: "a tool message with no assistant tool call before it",
    body: {
      ...ok,
      messages: [
        { role: "user", content: "x" },
        { role: "tool", content: "42", tool_call_id: "c1" },
      ],
    },
    status: 400,
    param: "messages[1].role",
  },
  {
    name: "a tool message without tool_call_id",
    body: { ...ok, messages: [{ role: "tool", content: "42" }] },
    status: 400,
    param: "messages[0].tool_call_id",
  },
  { name: "temperature above 2", body: { ...ok, temperature: 2.5 }, status: 400, param: "temperature" },
  { name: "temperature below 0", body: { ...ok, temperature: -0.1 }, status: 400, param: "temperature" },
  { name: "temperature as a string", body: { ...ok, temperature: "hot" }, status: 400, param: "temperature" },
  { name: "top_p of 0", body: { ...ok, top_p: 0 }, status: 400, param: "top_p" },
  { name: "top_p above 1", body: { ...ok, top_p: 1.5 }, status: 400, param: "top_p" },
  { name: "min_p above 1", body: { ...ok, min_p: 1.1 }, status: 400, param: "min_p" },
  { name: "top_k above 999", body: { ...ok, top_k: 1000 }, status: 400, param: "top_k" },
  { name: "top_k not an integer", body: { ...ok, top_k: 1.5 }, status: 400, param: "top_k" },
  { name: "max_tokens of 0", body: { ...ok, max_tokens: 0 }, status: 400, param: "max_tokens" },
  { name: "max_tokens not an integer", body: { ...ok, max_tokens: 2.5 }, status: 400, param: "max_tokens" },
  {
    name: "17 stop sequences",
    body: { ...ok, stop: Array.from({ length: 17 }, (_, i) => `s${i}`) },
    status: 400,
    param: "stop",
  },
  { name: "stop of the wrong type", body: { ...ok, stop: 7 }, status: 400, param: "stop" },
  { name: "n of 0", body: { ...ok, n: 0 }, status: 400, param: "n" },
  { name: "n of 5", body: { ...ok, n: 5 }, status: 400, param: "n" },
  { name: "presence_penalty above 2", body: { ...ok, presence_penalty: 2.1 }, status: 400, param: "presence_penalty" },
  {
    name: "frequency_penalty below -2",
    body: { ...ok, frequency_penalty: -2.1 },
    status: 400,
    param: "frequency_penalty",
  },
  { name: "repetition_penalty of 0", body: { ...ok, repetition_penalty: 0 }, status: 400, param: "repetition_penalty" },
  {
    name: "repetition_penalty above 5",
    body: { ...ok, repetition_penalty: 5.5 },
    status: 400,
    param: "repetition_penalty",
  },
  { name: "seed not an integer", body: { ...ok, seed: 1.5 }, status: 400, param: "seed" },
  { name: "stream not a boolean", body: { ...ok, stream: "yes" }, status: 400, param: "stream" },
  { name: "user not a string", body: { ...ok, user: 5 }, status: 400, param: "user" },
  {
    name: "a tool that is not a function",
    body: { ...ok, tools: [{ type: "retrieval" }] },
    status: 400,
    param: "tools[0].type",
  },
  {
    name: "a tool name with spaces",
    body: { ...ok, tools: [{ type: "function", function: { name: "get weather" } }] },
    status: 400,
    param: "tools[0].function.name",
  },
  {
    name: "two tools with one name",
    body: {
      ...ok,
      tools: [
        { type: "function", function: { name: "f" } },
        { type: "function", function: { name: "f" } },
      ],
    },
    status: 400,
    param: "tools[1].function.name",
  },
  {
    name: "tool_choice required without tools",
    body: { ...ok, tool_choice: "required" },
    status: 400,
    param: "tool_choice",
  },
  {
    name: "tool_choice naming an unknown tool",
    body: {
      ...ok,
      tools: [{ type: "function", function: { name: "f" } }],
      tool_choice: { type: "function", function: { name: "g" } },
    },
    status: 400,
    param: "tool_choice.function.name",
  },
  {
    name: "tool_choice of an unknown kind",
    body: { ...ok, tool_choice: "sometimes" },
    status: 400,
    param: "tool_choice",
  },
  {
    name: "tool parameters with a feature no grammar can enforce",
    body: {
      ...ok,
      tools: [
        {
          type: "function",
          function: { name: "f", parameters: { type: "object", properties: { a: { not: { type: "string" } } } } },
        },
      ],
    },
    status: 400,
    param: "tools[0].function.parameters",
    code: "unsupported_schema",
    message: /'not' at '#\/tools\/0\/parameters\/properties\/a\/not'/,
  },
  {
    name: "a tool result whose id matches no call",
    body: {
      ...ok,
      messages: [
        { role: "user", content: "x" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        { role: "tool", content: "42", tool_call_id: "c2" },
      ],
    },
    status: 400,
    param: "messages[2].tool_call_id",
  },
  {
    name: "tool call arguments that are not JSON",
    body: {
      ...ok,
      messages: [
        { role: "user", content: "x" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{oops" } }],
        },
        { role: "tool", content: "42", tool_call_id: "c1" },
      ],
    },
    status: 400,
    param: "messages[1].tool_calls[0].function.arguments",
  },
  {
    name: "response_format of an unknown type",
    body: { ...ok, response_format: { type: "yaml" } },
    status: 400,
    param: "response_format.type",
  },
  {
    name: "a json_schema using uniqueItems",
    body: {
      ...ok,
      response_format: {
        type: "json_schema",
        json_schema: { name: "x", schema: { type: "array", uniqueItems: true } },
      },
    },
    status: 400,
    param: "response_format.json_schema.schema",
    code: "unsupported_schema",
    message: /'uniqueItems' at '#\/uniqueItems'/,
  },
  {
    name: "a json_schema with a lookahead pattern",
    body: {
      ...ok,
      response_format: {
        type: "json_schema",
        json_schema: { name: "x", schema: { type: "string", pattern: "^(?=a)b$" } },
      },
    },
    status: 400,
    param: "response_format.json_schema.schema",
    message: /assertion/,
  },
  {
    name: "a json_schema with a $ref to nowhere",
    body: {
      ...ok,
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { $ref: "#/$defs/missing" } } },
    },
    status: 400,
    param: "response_format.json_schema.schema",
  },
  {
    name: "response_format with tools in auto mode",
    body: { ...ok, tools: [{ type: "function", function: { name: "f" } }], response_format: { type: "json_object" } },
    status: 400,
    param: "response_format",
    code: "unsupported_combination",
  },
  { name: "top_logprobs without logprobs", body: { ...ok, top_logprobs: 3 }, status: 400, param: "top_logprobs" },
  {
    name: "top_logprobs above 20",
    body: { ...ok, logprobs: true, top_logprobs: 21 },
    status: 400,
    param: "top_logprobs",
  },
  { name: "logprobs not a boolean", body: { ...ok, logprobs: 3 }, status: 400, param: "logprobs" },
  { name: "logit_bias above 100", body: { ...ok, logit_bias: { "50": 101 } }, status: 400, param: "logit_bias.50" },
  {
    name: "logit_bias keyed by text",
    body: { ...ok, logit_bias: { hello: 5 } },
    status: 400,
    param: "logit_bias.hello",
  },
  {
    name: "dry_sequence_breakers not a list",
    body: { ...ok, dry_multiplier: 0.8, dry_sequence_breakers: "nope" },
    status: 400,
    param: "dry_sequence_breakers",
  },
  { name: "xtc_probability above 1", body: { ...ok, xtc_probability: 2 }, status: 400, param: "xtc_probability" },
  {
    name: "prompt + max_tokens beyond the context",
    body: { ...ok, max_tokens: 250 },
    status: 400,
    param: "messages",
    code: "context_length_exceeded",
    message: /maximum context length is 256 tokens; the request needs 261/,
  },
  {
    name: "a prompt longer than the context",
    body: { ...ok, max_tokens: undefined, messages: [{ role: "user", content: "word ".repeat(400) }] },
    status: 400,
    param: "messages",
    code: "context_length_exceeded",
  },
];

describe("request validation: status and an OpenAI-shaped error naming the field", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const res = await srv.post("/v1/openai/chat/completions", c.body);
      assert.equal(res.status, c.status);
      const body = await readJson(res);
      assert.deepEqual(Object.keys(body), ["error"]);
      assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
      assert.equal(typeof body.error.message, "string");
      assert.equal(body.error.param, c.param, body.error.message);
      if (c.code) assert.equal(body.error.code, c.code);
      if (c.message) assert.match(body.error.message, c.message);
    });
  }

  it("accepts every field at the edges of its range", async () => {
    const res = await srv.post("/v1/openai/chat/completions", {
      ...ok,
      temperature: 0,
      top_p: 1,
      min_p: 1,
      top_k: 999,
      presence_penalty: -2,
      frequency_penalty: 2,
      repetition_penalty: 5,
      seed: -1,
      stop: Array.from({ length: 16 }, (_, i) => `stop-${i}`),
      n: 4,
      user: "user-1",
      tool_choice: "none",
      response_format: { type: "text" },
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await readJson(res)).choices.length, 4);
  });

  it("reports unknown fields in a header instead of failing", async () => {
    const res = await srv.post("/v1/openai/chat/completions", { ...ok, mirostat: 2, typical_p: 0.9 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-lunaris-ignored-params"), "mirostat,typical_p");
  });

  it("rejects a missing or wrong key with 401 in the same shape", async () => {
    for (const headers of [{ authorization: "" }, { authorization: "Bearer nope" }, { authorization: "Basic abc" }]) {
      const res = await srv.post("/v1/openai/chat/completions", ok, headers);
      assert.equal(res.status, 401);
      const body = await readJson(res);
      assert.equal(body.error.type, "authentication_error");
      assert.equal(body.error.code, "invalid_api_key");
    }
  });

  it("answers unknown routes with an OpenAI-shaped 404", async () => {
    const res = await srv.post("/v1/openai/nothing-here", ok);
    assert.equal(res.status, 404);
    assert.equal((await readJson(res)).error.code, "unknown_url");
  });

  it("refuses a body over 16 MiB with 413, whether its length is declared or streamed", async () => {
    const huge = JSON.stringify({ ...ok, messages: [{ role: "user", content: "x".repeat(MAX_BODY_BYTES) }] });
    const declared = await srv.post("/v1/openai/chat/completions", huge);
    assert.equal(declared.status, 413);
    assert.equal((await readJson(declared)).error.code, "request_too_large");
    // Chunked, no content-length: counted as it arrives.
    const url = new URL(`${srv.url}/v1/openai/chat/completions`);
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer sk-valid" },
        },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      const chunk = "x".repeat(2 ** 20);
      for (let i = 0; i < 17; i++) req.write(chunk);
      req.end();
    });
    assert.equal(streamed.status, 413);
    assert.equal(JSON.parse(streamed.body).error.type, "invalid_request_error");
  });

  it("keeps serving after every bad request, with no sequence left busy", async () => {
    const health = await readJson(await fetch(`${srv.url}/health`));
    assert.equal(health.active_sequences, 0);
    assert.equal(health.queue_depth, 0);
    const res = await srv.post("/v1/openai/chat/completions", ok);
    assert.equal(res.status, 200);
  });
});
