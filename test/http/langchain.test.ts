import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatOpenAI } from "@langchain/openai";
import { z } from "zod";
import { MODEL_ID, type TestServer, startTestServer } from "../helpers/testServer.js";

/** LangChain's ChatOpenAI (JS), pointed at the real server with only the base URL changed. */
const KEY = "sk-langchain";
let srv: TestServer;
before(async () => {
  srv = await startTestServer({ apiKeys: [KEY] });
});
after(async () => {
  await srv.close();
});

const chat = (options: ConstructorParameters<typeof ChatOpenAI>[0] = {}) =>
  new ChatOpenAI({
    model: MODEL_ID,
    apiKey: KEY,
    configuration: { baseURL: `${srv.url}/v1` },
    maxRetries: 0,
    maxTokens: 8,
    temperature: 0,
    ...options,
  });

describe("LangChain ChatOpenAI", () => {
  it("invokes and streams, with usage", async () => {
    const reply = await chat().invoke("Say hello");
    assert.equal(typeof reply.content, "string");
    assert.ok((reply.usage_metadata?.input_tokens ?? 0) > 0);
    assert.ok((reply.usage_metadata?.output_tokens ?? 0) > 0);
    let streamed = "";
    for await (const chunk of await chat().stream("Say hello")) streamed += String(chunk.content);
    assert.equal(streamed, reply.content, "greedy: the stream says what the call said");
  });

  it("returns structured output and tool calls that parse", async () => {
    const Person = z.object({ name: z.string().max(10), age: z.number().int().min(0).max(120) });
    for (const method of ["jsonSchema", "functionCalling"] as const) {
      const person = await chat({ maxTokens: 80 }).withStructuredOutput(Person, { method }).invoke("Invent a person");
      assert.deepEqual(Person.parse(person), person, method);
    }
    const weather = {
      type: "function" as const,
      function: {
        name: "get_weather",
        description: "Weather in a city",
        parameters: { type: "object", properties: { city: { type: "string", maxLength: 10 } }, required: ["city"] },
      },
    };
    const called = await chat({ maxTokens: 60 })
      .bindTools([weather], { tool_choice: "required" })
      .invoke("Weather in Oslo?");
    assert.equal(called.tool_calls?.[0]?.name, "get_weather");
    assert.equal(typeof called.tool_calls?.[0]?.args.city, "string");
  });

  it("raises the server's errors", async () => {
    await assert.rejects(chat({ model: "gpt-4" }).invoke("x"), /does not exist/);
    await assert.rejects(chat({ apiKey: "wrong" }).invoke("x"), /Incorrect API key/);
  });
});
