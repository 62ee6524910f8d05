import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { MODEL_ID, type TestServer, parseSse, readJson, startTestServer } from "../helpers/testServer.js";

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ apiKeys: ["sk-test-one"] });
});
after(async () => {
  await srv.close();
});

const hello = [{ role: "user" as const, content: "Hello!" }];

describe("chat completions with the official openai client", () => {
  it("creates a completion in the provider's shape", async () => {
    const r = await srv.client.chat.completions.create({ model: MODEL_ID, messages: hello, max_tokens: 8, seed: 1 });
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.object, "chat.completion");
    assert.equal(r.model, MODEL_ID);
    assert.equal(r.choices.length, 1);
    const choice = r.choices[0];
    assert.ok(choice);
    assert.equal(choice.message.role, "assistant");
    assert.equal(typeof choice.message.content, "string");
    assert.ok(["stop", "length"].includes(choice.finish_reason));
    const u = r.usage as OpenAI.CompletionUsage & { estimated_cost: number };
    assert.equal(u.prompt_tokens, 12); // <|begin_of_text|> … "Hello!" … assistant header
    assert.ok(u.completion_tokens >= 1 && u.completion_tokens <= 8);
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    assert.equal(
      u.estimated_cost,
      Number(((u.prompt_tokens * 30_000 + u.completion_tokens * 60_000) / 1e12).toPrecision(12)),
    );
  });

  it("stops at max_tokens with finish_reason length", async () => {
    const r = await srv.client.chat.completions.create({
      model: MODEL_ID,
      messages: hello,
      max_tokens: 3,
      seed: 7,
      temperature: 0.8,
    });
    // Random weights rarely emit <|eot_id|> in 3 tokens; when they do, finish_reason is stop.
    const c = r.choices[0];
    assert.ok(c);
    assert.equal(c.finish_reason === "length", r.usage?.completion_tokens === 3);
  });

  it("streams: role first, content deltas, finish chunk with usage, then [DONE]", async () => {
    const stream = await srv.client.chat.completions.create({
      model: MODEL_ID,
      messages: hello,
      max_tokens: 6,
      seed: 3,
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length >= 3);
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1);
    assert.equal(chunks[0]?.choices[0]?.delta.role, "assistant");
    const last = chunks.at(-1);
    assert.ok(last?.choices[0]?.finish_reason);
    assert.equal(last?.usage?.total_tokens, (last?.usage?.prompt_tokens ?? 0) + (last?.usage?.completion_tokens ?? 0));
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
  });

  it("gives the same text for the same seed, and other text for another seed", async () => {
    const ask = (seed: number) =>
      srv.client.chat.completions.create({ model: MODEL_ID, messages: hello, max_tokens: 12, seed, temperature: 1 });
    const [a, b, c] = [await ask(42), await ask(42), await ask(43)];
    assert.equal(a.choices[0]?.message.content, b.choices[0]?.message.content);
    assert.notEqual(a.choices[0]?.message.content, c.choices[0]?.message.content);
  });

  it("returns n distinct choices, streamed with their index", async () => {
    const r = await srv.client.chat.completions.create({
      model: MODEL_ID,
      messages: hello,
      max_tokens: 8,
      n: 3,
      seed: 5,
    });
    assert.deepEqual(
      r.choices.map((c) => c.index),
      [0, 1, 2],
    );
    assert.equal(new Set(r.choices.map((c) => c.message.content)).size, 3);
    const stream = await srv.client.chat.completions.create({
      model: MODEL_ID,
      messages: hello,
      max_tokens: 4,
      n: 2,
      stream: true,
    });
    const finished = new Set<number>();
    for await (const chunk of stream) for (const c of chunk.choices) if (c.finish_reason) finished.add(c.index);
    assert.deepEqual([...finished].sort(), [0, 1]);
  });

  it("cuts stop sequences, also across tokens, streamed and not", async () => {
    const base = { model: MODEL_ID, messages: hello, max_tokens: 24, seed: 11, temperature: 1 };
    const full = (await srv.client.chat.completions.create(base)).choices[0]?.message.content ?? "";
    assert.ok(full.length > 12, `need some text to cut: ${JSON.stringify(full)}`);
    // A stop string from the middle of the text, likely spanning a token boundary.
    const at = Math.floor(full.length / 2);
    const stop = full.slice(at, at + 4);
    const expected = full.slice(0, full.indexOf(stop));
    const cut = await srv.client.chat.completions.create({ ...base, stop: [stop, "\u0000never"] });
    assert.equal(cut.choices[0]?.message.content, expected);
    assert.equal(cut.choices[0]?.finish_reason, "stop");
    const stream = await srv.client.chat.completions.create({ ...base, stop, stream: true });
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? "";
    assert.equal(streamed, expected);
  });

  it("raises typed errors", async () => {
    await assert.rejects(
      srv.client.chat.completions.create({ model: "no-such-model", messages: hello }),
      (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found" && e.param === "model",
    );
    await assert.rejects(
      srv.client.chat.completions.create({ model: MODEL_ID, messages: hello, temperature: 3 }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === "temperature",
    );
    const bad = new OpenAI({ baseURL: srv.base, apiKey: "sk-wrong", maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: MODEL_ID, messages: hello }), OpenAI.AuthenticationError);
  });
});

describe("raw HTTP and SSE framing", () => {
  it("frames every event as 'data: …\\n\\n' and ends with data: [DONE]", async () => {
    const res = await srv.post("/v1/chat/completions", {
      model: MODEL_ID,
      messages: hello,
      max_tokens: 4,
      stream: true,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = parseSse(await res.text());
    assert.equal(events.at(-1), "[DONE]");
    for (const e of events.slice(0, -1)) assert.equal(JSON.parse(e).object, "chat.completion.chunk");
  });

  it("sends usage in its own final chunk with stream_options.include_usage", async () => {
    const res = await srv.post("/v1/openai/chat/completions", {
      model: MODEL_ID,
      messages: hello,
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = parseSse(await res.text());
    const usageChunk = JSON.parse(events.at(-2) ?? "{}");
    assert.deepEqual(usageChunk.choices, []);
    assert.equal(usageChunk.usage.prompt_tokens, 12);
  });

  it("serves the models list on both prefixes", async () => {
    for (const p of ["/v1/models", "/v1/openai/models"]) {
      const res = await fetch(`${srv.url}${p}`, { headers: { authorization: "Bearer sk-test-one" } });
      const body = await readJson(res);
      assert.equal(body.data[0].id, MODEL_ID);
      assert.equal(body.data[0].context_length, 2048);
      assert.equal(body.data[0].pricing.input_tokens, 0.03);
      assert.equal(body.data[0].pricing.output_tokens, 0.06);
    }
  });

  it("reports health", async () => {
    const res = await fetch(`${srv.url}/health`);
    assert.equal(res.status, 200);
    assert.equal((await readJson(res)).status, "ok");
  });
});

describe("the provider's curl examples", () => {
  // The three examples from the provider's API page, as curl sends them.
  it("simple message", async () => {
    const res = await srv.post(
      "/v1/openai/chat/completions",
      `{
      "model": "Sao10K/L3-8B-Lunaris-v1",
      "messages": [{ "role": "user", "content": "Hello!" }],
      "max_tokens": 8
    }`,
    );
    assert.equal(res.status, 200);
    const body = await readJson(res);
    assert.equal(body.usage.prompt_tokens, 12);
    assert.equal(typeof body.usage.estimated_cost, "number");
  });

  it("conversation with a system message", async () => {
    const res = await srv.post("/v1/openai/chat/completions", {
      model: "Sao10K/L3-8B-Lunaris-v1",
      max_tokens: 8,
      messages: [
        { role: "system", content: "Respond like a michelin starred chef." },
        { role: "user", content: "Can you name at least two different techniques to cook lamb?" },
        { role: "assistant", content: "Bonjour! Let me tell you, my friend, cooking lamb is an art form." },
        { role: "user", content: "Tell me more about the second technique." },
      ],
    });
    assert.equal(res.status, 200);
    assert.equal((await readJson(res)).choices[0].message.role, "assistant");
  });

  it("streaming", async () => {
    const res = await srv.post("/v1/openai/chat/completions", {
      model: "Sao10K/L3-8B-Lunaris-v1",
      stream: true,
      max_tokens: 8,
      messages: [{ role: "user", content: "Hello!" }],
    });
    assert.equal(res.status, 200);
    assert.equal(parseSse(await res.text()).at(-1), "[DONE]");
  });
});
