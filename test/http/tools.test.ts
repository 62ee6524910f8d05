import type { LlamaEngine } from "../../src/engine/llama/LlamaEngine.js";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import type OpenAI from "openai";
import type { WireMessage } from "../../src/api/protocol/chatCompletionRequest.js";
import { toChatMessages } from "../../src/api/translate/toGenerationRequest.js";
import { withToolInstructions } from "../../src/engine/tools/llama3ToolFormat.js";
import { MODEL_ID, type TestServer, parseSse, readJson, startTestServer, VIA_GATEWAY } from "../helpers/testServer.js";

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv.close();
});

const ajv = new Ajv2020({ strict: false });

const weather = {
  type: "object",
  properties: { city: { type: "string", maxLength: 6 }, unit: { enum: ["C", "F"] } },
  required: ["city", "unit"],
  additionalProperties: false,
} as const;
const time = {
  type: "object",
  properties: { tz: { enum: ["UTC", "CET", "JST"] } },
  required: ["tz"],
  additionalProperties: false,
} as const;
const tools: OpenAI.Chat.Completions.ChatCompletionFunctionTool[] = [
  {
    type: "function",
    function: { name: "get_weather", description: "Weather in a city", parameters: weather, strict: true },
  },
  { type: "function", function: { name: "get_time", description: "Time in a zone", parameters: time } },
];
const schemaOf: Record<string, object> = { get_weather: weather, get_time: time };

const ask = (extra: Partial<OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming>) =>
  srv.client.chat.completions.create({
    model: MODEL_ID,
    messages: [{ role: "user", content: "What's the weather in Oslo?" }],
    tools,
    max_tokens: 150,
    ...extra,
  });

function checkCalls(calls: OpenAI.Chat.Completions.ChatCompletionMessageToolCall[] | undefined, only?: string): void {
  assert.ok(calls && calls.length > 0, "at least one call");
  for (const call of calls) {
    assert.equal(call.type, "function");
    if (call.type !== "function") continue;
    assert.match(call.id, /^call_[A-Za-z0-9_-]{16}$/);
    if (only) assert.equal(call.function.name, only);
    const schema = schemaOf[call.function.name];
    assert.ok(schema, `a declared tool: ${call.function.name}`);
    const args: unknown = JSON.parse(call.function.arguments);
    assert.ok(ajv.validate(schema, args), `${call.function.arguments}: ${ajv.errorsText()}`);
  }
  assert.equal(new Set(calls.map((c) => c.id)).size, calls.length, "ids are unique");
}

describe("tool calling through the real engine", () => {
  it("tool_choice 'required': calls that parse and match their schemas, finish_reason tool_calls", async () => {
    for (const seed of [1, 2, 3, 4]) {
      const r = await ask({ tool_choice: "required", seed });
      const choice = r.choices[0];
      assert.ok(choice);
      if (choice.finish_reason === "length") continue; // several parallel calls may run out of tokens
      assert.equal(choice.finish_reason, "tool_calls");
      assert.equal(choice.message.content, null);
      checkCalls(choice.message.tool_calls);
    }
  });

  it("a named tool_choice calls exactly that function; parallel_tool_calls false makes it one call", async () => {
    for (const seed of [5, 6, 7]) {
      const r = await ask({
        tool_choice: { type: "function", function: { name: "get_time" } },
        parallel_tool_calls: false,
        seed,
      });
      const choice = r.choices[0];
      assert.equal(choice?.finish_reason, "tool_calls");
      assert.equal(choice?.message.tool_calls?.length, 1);
      checkCalls(choice?.message.tool_calls, "get_time");
    }
  });

  it("streams OpenAI-shaped deltas that the SDK's stream helper reassembles", async () => {
    const body = {
      model: MODEL_ID,
      messages: [{ role: "user" as const, content: "Weather?" }],
      tools,
      tool_choice: { type: "function" as const, function: { name: "get_weather" } },
      parallel_tool_calls: false,
      max_tokens: 150,
      seed: 11,
    };
    const runner = srv.client.chat.completions.stream(body);
    const final = await runner.finalChatCompletion();
    const choice = final.choices[0];
    assert.equal(choice?.finish_reason, "tool_calls");
    checkCalls(choice?.message.tool_calls, "get_weather");

    // The raw events: id, type and name first with empty arguments, then argument fragments.
    const res = await srv.post("/v1/openai/chat/completions", { ...body, stream: true });
    const events = parseSse(await res.text());
    assert.equal(events.at(-1), "[DONE]");
    const deltas = events.slice(0, -1).map((e) => JSON.parse(e).choices[0]);
    const toolDeltas = deltas.filter((d) => d?.delta?.tool_calls).map((d) => d.delta.tool_calls[0]);
    assert.deepEqual(Object.keys(toolDeltas[0]).sort(), ["function", "id", "index", "type"]);
    assert.deepEqual(toolDeltas[0].function, { name: "get_weather", arguments: "" });
    for (const d of toolDeltas.slice(1)) {
      assert.deepEqual(Object.keys(d).sort(), ["function", "index"]);
      assert.deepEqual(Object.keys(d.function), ["arguments"]);
    }
    const args = toolDeltas.map((d) => d.function.arguments).join("");
    const plain = await readJson(await srv.post("/v1/openai/chat/completions", body));
    assert.equal(args, plain.choices[0].message.tool_calls[0].function.arguments, "same seed, same call");
    assert.equal(deltas.at(-1).finish_reason, "tool_calls");
  });

  it("tool_choice 'auto': a plain reply stays text", async () => {
    const r = await ask({ seed: 3, max_tokens: 8 });
    const choice = r.choices[0];
    assert.equal(choice?.message.tool_calls, undefined);
    assert.equal(typeof choice?.message.content, "string");
    assert.notEqual(choice?.finish_reason, "tool_calls");
  });

  it("tool_choice 'auto': a reply that opens with '{' becomes a grammar-checked call", async () => {
    // Random weights never choose to call; a bias on "{" makes the reply open like a call,
    // and from there the lazy grammar takes over.
    const brace = (await srv.engine()?.tokenize("{", false))?.[0];
    for (const seed of [1, 2]) {
      const r = await ask({ seed, logit_bias: { [String(brace)]: 100 }, parallel_tool_calls: false });
      const choice = r.choices[0];
      assert.equal(choice?.finish_reason, "tool_calls", JSON.stringify(choice));
      checkCalls(choice?.message.tool_calls);
    }
  });

  it(
    "history with assistant tool_calls and tool results is accepted and rendered",
    { skip: VIA_GATEWAY && "reads the in-process engine's rendering" },
    async () => {
      const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
        { role: "user", content: "Weather in Oslo?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Oslo","unit":"C"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: '{"temp": -3}' },
      ];
      const r = await srv.client.chat.completions.create({ model: MODEL_ID, messages, tools, max_tokens: 4, seed: 1 });
      assert.ok(r.choices[0]);
      // What the model saw: the tool section, the call in the tool format, the result in an ipython turn.
      const engine = srv.engine() as LlamaEngine | null;
      assert.ok(engine);
      const toolsRequest = {
        tools: tools.map((t) => ({
          name: t.function.name,
          description: t.function.description,
          parameters: t.function.parameters,
        })),
        choice: { type: "auto" as const },
        parallel: true,
      };
      const rendered = engine.renderPrompt(
        withToolInstructions(toChatMessages(messages as WireMessage[]), toolsRequest),
      );
      assert.equal(r.usage?.prompt_tokens, rendered.length, "the server rendered exactly this prompt");
      const text = await engine.detokenize(rendered);
      assert.match(
        text,
        /<\|start_header_id\|>assistant<\|end_header_id\|>\n\n\{"name": "get_weather", "parameters": \{"city":"Oslo","unit":"C"\}\}<\|eot_id\|>/,
      );
      assert.match(text, /<\|start_header_id\|>ipython<\|end_header_id\|>\n\n\{"temp": -3\}<\|eot_id\|>/);
    },
  );
});
