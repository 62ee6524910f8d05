import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MODEL_ID, type Json, type TestServer, parseSse, readJson, startTestServer } from "../helpers/testServer.js";

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv.close();
});

const chat = { model: MODEL_ID, messages: [{ role: "user", content: "Say something." }], max_tokens: 6, seed: 4 };

/** Checks one OpenAI chat logprobs entry; returns its bytes. */
function checkEntry(e: Json, top: number): number[] {
  assert.equal(typeof e.token, "string");
  assert.ok(e.logprob <= 0 && e.logprob > -30, `a log-probability: ${e.logprob}`);
  assert.ok(Array.isArray(e.bytes) && e.bytes.length > 0);
  assert.equal(e.top_logprobs.length, top);
  for (let i = 1; i < e.top_logprobs.length; i++)
    assert.ok(e.top_logprobs[i - 1].logprob >= e.top_logprobs[i].logprob, "most likely first");
  return e.bytes;
}

describe("chat logprobs", () => {
  it("greedy: one entry per token, the sampled token is the top alternative, bytes rebuild the text", async () => {
    const res = await srv.post("/v1/openai/chat/completions", {
      ...chat,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    });
    const body = await readJson(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    const choice = body.choices[0];
    const entries = choice.logprobs.content;
    assert.equal(entries.length, body.usage.completion_tokens);
    const bytes = entries.flatMap((e: Json) => checkEntry(e, 3));
    assert.equal(Buffer.from(bytes).toString("utf8"), choice.message.content);
    for (const e of entries) {
      // Greedy takes the most probable token. Random weights give near-uniform logits, so two
      // tokens can tie in float32 probability and be listed in either order: compare the value.
      assert.ok(Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-6, `${e.token} is not the most probable token`);
      assert.ok(
        e.top_logprobs.some((t: Json) => t.token === e.token && t.logprob === e.logprob),
        "the sampled token is among the alternatives",
      );
    }
  });

  it("sampled with neutral settings: logprobs of the model's distribution, top alternatives sum below 1", async () => {
    const r = await srv.client.chat.completions.create({
      ...chat,
      messages: [{ role: "user", content: "Say something." }],
      logprobs: true,
      top_logprobs: 20,
    });
    const entries = r.choices[0]?.logprobs?.content ?? [];
    assert.equal(entries.length, r.usage?.completion_tokens);
    for (const e of entries) {
      checkEntry(e, 20);
      const mass = e.top_logprobs.reduce((a, t) => a + Math.exp(t.logprob), 0);
      assert.ok(mass > 0 && mass <= 1 + 1e-6);
    }
  });

  it("logprobs without top_logprobs: just the sampled tokens", async () => {
    const r = await readJson(await srv.post("/v1/openai/chat/completions", { ...chat, logprobs: true }));
    for (const e of r.choices[0].logprobs.content) checkEntry(e, 0);
    const plain = await readJson(await srv.post("/v1/openai/chat/completions", chat));
    assert.equal(plain.choices[0].logprobs, null, "null when not asked");
    assert.equal(
      plain.choices[0].message.content,
      r.choices[0].message.content,
      "asking for logprobs does not change the text",
    );
  });

  it("a stop sequence cuts the logprobs with the text", async () => {
    const body = { ...chat, max_tokens: 12, temperature: 0, logprobs: true };
    const full = await readJson(await srv.post("/v1/openai/chat/completions", body));
    const text: string = full.choices[0].message.content;
    // A stop string from the text's second half that does not occur earlier: random-weights
    // text repeats itself, and a stop string found at its start would cut everything.
    let at = Math.floor(text.length / 2);
    while (at > 0 && text.indexOf(text.slice(at, at + 3)) !== at) at--;
    assert.ok(at > 0, `no stop string to cut ${JSON.stringify(text)} with`);
    const stop = text.slice(at, at + 3);
    const cut = await readJson(await srv.post("/v1/openai/chat/completions", { ...body, stop }));
    const content: string = cut.choices[0].message.content;
    assert.equal(content, text.slice(0, text.indexOf(stop)));
    const entries = cut.choices[0].logprobs.content;
    const joined = entries.map((e: Json) => e.token).join("");
    assert.ok(joined.startsWith(content), "every output token is there");
    assert.ok(entries.length < full.choices[0].logprobs.content.length, "tokens after the cut are not");
    const lastStart = joined.length - entries.at(-1).token.length;
    assert.ok(lastStart < Math.max(1, content.length), "the last entry starts inside the returned text");
  });

  it("streamed: each content chunk carries its tokens' logprobs, the same as the plain response", async () => {
    const body = { ...chat, logprobs: true, top_logprobs: 2 };
    const plain = await readJson(await srv.post("/v1/openai/chat/completions", body));
    const events = parseSse(await (await srv.post("/v1/openai/chat/completions", { ...body, stream: true })).text());
    const chunks = events
      .slice(0, -1)
      .map((e) => JSON.parse(e).choices[0])
      .filter((c) => c?.delta?.content);
    for (const c of chunks) {
      const text = Buffer.from(c.logprobs.content.flatMap((e: Json) => e.bytes)).toString("utf8");
      assert.equal(text, c.delta.content);
    }
    assert.deepEqual(
      chunks.flatMap((c) => c.logprobs.content),
      plain.choices[0].logprobs.content,
    );
  });
});

describe("text completions: token-id prompts, echo, integer logprobs", () => {
  const base = { model: MODEL_ID, max_tokens: 4, seed: 9 };
  const text = "Hello world";

  it("a token-id prompt completes like its text", async () => {
    const ids = (await srv.engine()?.tokenize(text, false)) ?? [];
    const a = await readJson(await srv.post("/v1/openai/completions", { ...base, prompt: text }));
    const b = await readJson(await srv.post("/v1/openai/completions", { ...base, prompt: ids }));
    const c = await readJson(await srv.post("/v1/openai/completions", { ...base, prompt: [ids] }));
    assert.equal(b.choices[0].text, a.choices[0].text);
    assert.equal(c.choices[0].text, a.choices[0].text);
    assert.equal(b.usage.prompt_tokens, a.usage.prompt_tokens);
  });

  it("an unknown token id is a 400", async () => {
    const res = await srv.post("/v1/openai/completions", { ...base, prompt: [9906, 200000] });
    assert.equal(res.status, 400);
    const body = await readJson(res);
    assert.equal(body.error.param, "prompt");
    assert.equal(body.error.code, "invalid_token");
  });

  it("echo returns the prompt before the completion, plain and streamed", async () => {
    const a = await srv.client.completions.create({ ...base, prompt: text, echo: true });
    const plain = await readJson(await srv.post("/v1/openai/completions", { ...base, prompt: text }));
    assert.equal(a.choices[0]?.text, text + plain.choices[0].text);
    const events = parseSse(
      await (await srv.post("/v1/openai/completions", { ...base, prompt: text, echo: true, stream: true })).text(),
    );
    const first = JSON.parse(events[0] as string);
    assert.equal(first.choices[0].text, text);
    const joined = events
      .slice(0, -1)
      .map((e) => JSON.parse(e).choices[0]?.text ?? "")
      .join("");
    assert.equal(joined, a.choices[0]?.text);
  });

  it("logprobs as an integer: parallel arrays with that many alternatives and running text offsets", async () => {
    const r = await readJson(await srv.post("/v1/openai/completions", { ...base, prompt: text, logprobs: 2 }));
    const lp = r.choices[0].logprobs;
    assert.equal(lp.tokens.length, r.usage.completion_tokens);
    assert.equal(lp.tokens.join(""), r.choices[0].text);
    assert.deepEqual(
      lp.text_offset,
      lp.tokens.map((_: string, i: number) => lp.tokens.slice(0, i).join("").length),
    );
    for (const [i, top] of lp.top_logprobs.entries()) {
      assert.ok(Object.keys(top).length >= 1 && Object.keys(top).length <= 2);
      assert.ok(lp.token_logprobs[i] < 0);
    }
  });

  it("echo with logprobs scores the prompt; its first token has none, as in OpenAI", async () => {
    const withBos = `<|begin_of_text|>${text}`;
    const r = await readJson(
      await srv.post("/v1/openai/completions", { ...base, prompt: withBos, echo: true, logprobs: 1 }),
    );
    const lp = r.choices[0].logprobs;
    assert.equal(r.choices[0].text.startsWith(withBos), true);
    assert.equal(lp.tokens.length, r.usage.prompt_tokens + r.usage.completion_tokens);
    assert.equal(lp.tokens[0], "<|begin_of_text|>");
    assert.equal(lp.token_logprobs[0], null);
    assert.equal(lp.top_logprobs[0], null);
    for (const v of lp.token_logprobs.slice(1)) assert.ok(typeof v === "number" && v < 0);
    assert.equal(lp.tokens.join(""), r.choices[0].text);
    // Without the BOS in the text, the server adds it and leaves it out of the echo; the first
    // visible token still gets null (it was scored after the hidden BOS, which OpenAI never shows).
    const r2 = await readJson(
      await srv.post("/v1/openai/completions", { ...base, prompt: text, echo: true, logprobs: 0 }),
    );
    assert.equal(r2.choices[0].logprobs.tokens.join(""), r2.choices[0].text);
    assert.equal(r2.choices[0].logprobs.token_logprobs[0], null);
    assert.equal(typeof r2.choices[0].logprobs.token_logprobs[1], "number");
  });
});
