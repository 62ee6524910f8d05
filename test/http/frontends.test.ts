import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MODEL_ID, type TestServer, parseSse, readJson, startTestServer, VIA_GATEWAY } from "../helpers/testServer.js";

// Requests in the exact shapes roleplay front-ends send (from their documented wire formats).
let srv: TestServer;
before(async () => {
  srv = await startTestServer({ corsOrigins: ["*"] });
});
after(async () => {
  await srv.close();
});

/** As SillyTavern's Custom (OpenAI-compatible) source: base URL typed with a trailing slash, empty key. */
const st = (path: string, body?: unknown) =>
  fetch(`${srv.url}/v1/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json", authorization: "Bearer " },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const chat = (body: Record<string, unknown>) => srv.post("/v1/chat/completions", { model: MODEL_ID, ...body });
const text = async (
  body: Record<string, unknown>,
): Promise<{ content: string; finish: string; completion: number }> => {
  const res = await chat(body);
  assert.equal(res.status, 200, await res.clone().text());
  const j = await readJson(res);
  return {
    content: j.choices[0].message.content,
    finish: j.choices[0].finish_reason,
    completion: j.usage.completion_tokens,
  };
};

const stMessages = [
  { role: "system", content: "Write Seraphina's next reply in a fictional chat between Seraphina and User." },
  { role: "system", name: "example_user", content: "Hi there" },
  { role: "system", name: "example_assistant", content: "*smiles* Welcome to the glade." },
  { role: "assistant", content: "*Seraphina looks up from her book.* Oh, you're awake!" },
  { role: "user", content: "Where am I?" },
  { role: "user", content: "And who are you?" },
  { role: "system", content: "[Keep replies short.]" },
];

describe("SillyTavern (Custom OpenAI-compatible source)", () => {
  it("lists models at //models and chats at //chat/completions with an empty bearer token", async () => {
    const models = await readJson(await st("/models"));
    assert.ok(models.data.some((m: { id: string }) => m.id === MODEL_ID));
    const res = await st("/chat/completions", {
      messages: stMessages,
      model: MODEL_ID,
      temperature: 1.4,
      frequency_penalty: 0,
      presence_penalty: 0,
      top_p: 1,
      max_tokens: 12,
      stream: true,
      stop: ["\nUser:"],
      // "Additional parameters" users merge in:
      top_k: 20,
      min_p: 0.1,
      repetition_penalty: 1.1,
      include_reasoning: false,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-lunaris-ignored-params"), "include_reasoning");
    const events = parseSse(await res.text());
    assert.equal(events.at(-1), "[DONE]");
    for (const e of events.slice(0, -1)) {
      const chunk = JSON.parse(e);
      for (const k of ["error", "message", "detail"]) assert.ok(!(k in chunk), `normal chunk carries '${k}'`);
    }
  });

  it("continues a trailing assistant message: the reply holds only the continuation", async () => {
    const prefill = "Once upon a time, in a glade";
    const base = { max_tokens: 10, seed: 77, temperature: 1 };
    const continued = await text({
      ...base,
      messages: [
        { role: "user", content: "Tell me a story" },
        { role: "assistant", content: prefill },
      ],
    });
    // The same generation through text completion, from the rendered prompt ending in the prefill.
    const raw = await readJson(
      await srv.post("/v1/completions", {
        model: MODEL_ID,
        ...base,
        prompt: `<|start_header_id|>user<|end_header_id|>\n\nTell me a story<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n${prefill}`,
      }),
    );
    assert.equal(continued.content, raw.choices[0].text);
    assert.ok(!continued.content.startsWith(prefill));
  });

  it("returns several swipes with n", async () => {
    const r = await readJson(await chat({ messages: stMessages, n: 3, max_tokens: 6 }));
    assert.equal(r.choices.length, 3);
  });
});

describe("samplers front-ends rely on", () => {
  const greedyX = {
    messages: [{ role: "user", content: "Repeat" }],
    temperature: 0,
    max_tokens: 12,
    seed: 1,
    logit_bias: { "87": 12 },
  };

  it("DRY changes the output of a repeating generation", async () => {
    const plain = await text(greedyX);
    assert.match(plain.content, /^(x)+$/i, `bias makes greedy repeat one token: ${plain.content}`);
    const dry = await text({
      ...greedyX,
      dry_multiplier: 2,
      dry_base: 2,
      dry_allowed_length: 1,
      dry_sequence_breakers: '["\\n"]',
    });
    assert.notEqual(dry.content, plain.content);
  });

  it("XTC changes the sampled output for the same seed", async () => {
    const base = { messages: [{ role: "user", content: "Hi" }], max_tokens: 8, seed: 5, temperature: 1 };
    const plain = await text(base);
    const xtc = await text({ ...base, xtc_probability: 1, xtc_threshold: 0 });
    assert.notEqual(xtc.content, plain.content);
  });

  it("biases end-of-generation tokens; ignore_eos and min_tokens override them", async () => {
    const eot = { messages: [{ role: "user", content: "Hi" }], max_tokens: 8, seed: 9, logit_bias: [[128009, 100]] };
    const stops = await text(eot);
    assert.equal(stops.finish, "stop");
    assert.equal(stops.completion, 1);
    const ignores = await text({ ...eot, ignore_eos: true });
    assert.equal(ignores.finish, "length");
    assert.equal(ignores.completion, 8);
    const atLeast = await text({ ...eot, min_tokens: 4 });
    assert.equal(atLeast.completion, 5); // 4 tokens, then <|eot_id|>
  });

  it("bans tokens by id or text, and penalises over a range", async () => {
    const plain = await text(greedyX);
    const banned = await text({ ...greedyX, banned_tokens: [87] });
    assert.ok(!/x/i.test(banned.content.slice(0, 1)), banned.content);
    assert.notEqual(banned.content, plain.content);
    const ranged = await text({ ...greedyX, repetition_penalty: 5, repetition_penalty_range: 2 });
    assert.equal(ranged.finish, "length");
  });

  it("names unsupported sampler fields in a header instead of failing", async () => {
    const res = await chat({
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 2,
      typical_p: 0.9,
      mirostat_mode: 2,
      top_n_sigma: 1,
      samplers: ["top_k"],
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-lunaris-ignored-params"), "typical_p,mirostat_mode,top_n_sigma,samplers");
  });
});

describe("Kobold Lite and Agnaistic", () => {
  it("answers a CORS preflight and allows the browser call", async () => {
    const pre = await fetch(`${srv.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: {
        origin: "https://lite.koboldai.net",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-headers") ?? "", /authorization/i);
    const res = await srv.post(
      "/v1/chat/completions",
      { model: MODEL_ID, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 },
      { origin: "https://lite.koboldai.net" },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
  });

  it("accepts more than 4 stop strings (Agnaistic)", async () => {
    const stop = ["\nUser:", "\nBot:", "<|eot_id|>", "###", "\n\n\n", "USER:", "ASSISTANT:", "</s>"];
    const r = await text({ messages: [{ role: "user", content: "Hi" }], max_tokens: 6, stop });
    assert.ok(["stop", "length"].includes(r.finish));
  });
});

describe("SillyTavern text completion", () => {
  it("accepts its whole settings object, applies what it can and names the rest", async () => {
    // SillyTavern's text-completion request: the Llama 3 prompt formatted by the client
    // (special tokens as text, no <|begin_of_text|>) plus its full sampler settings object.
    const settings = {
      model: MODEL_ID,
      prompt:
        "<|start_header_id|>system<|end_header_id|>\n\nYou are Seraphina.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
      max_tokens: 6,
      max_new_tokens: 6,
      temperature: 1.4,
      top_p: 1,
      typical_p: 1,
      typical: 1,
      sampler_seed: -1,
      min_p: 0.1,
      repetition_penalty: 1.1,
      frequency_penalty: 0,
      presence_penalty: 0,
      top_k: 0,
      skew: 0,
      min_tokens: 0,
      length_penalty: 1,
      early_stopping: false,
      add_bos_token: true,
      smoothing_factor: 0,
      smoothing_curve: 1,
      dry_allowed_length: 2,
      dry_multiplier: 0.8,
      dry_base: 1.75,
      dry_sequence_breakers: '["\\n", ":", "\\"", "*"]',
      dry_penalty_last_n: 0,
      max_tokens_second: 0,
      stopping_strings: ["\nUser:"],
      stop: ["\nUser:"],
      truncation_length: 8192,
      ban_eos_token: false,
      skip_special_tokens: true,
      include_reasoning: true,
      top_a: 0,
      tfs: 1,
      mirostat_mode: 0,
      mirostat_tau: 5,
      mirostat_eta: 0.1,
      custom_token_bans: "",
      banned_strings: [],
      api_type: "llamacpp",
      api_server: "http://127.0.0.1:8080",
      xtc_threshold: 0.1,
      xtc_probability: 0,
      nsigma: 0,
      top_n_sigma: 0,
      ignore_eos: false,
      repeat_last_n: 0,
      n_predict: 6,
      n_probs: 10,
      cache_prompt: true,
      logit_bias: [],
      samplers: ["dry", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature"],
      grammar: "",
      stream: true,
    };
    const res = await srv.post("/v1/completions", settings);
    assert.equal(res.status, 200, await res.clone().text());
    const ignored = (res.headers.get("x-lunaris-ignored-params") ?? "").split(",");
    for (const f of ["typical_p", "mirostat_mode", "top_a", "tfs", "samplers", "n_probs", "grammar"])
      assert.ok(ignored.includes(f), f);
    for (const f of ["dry_multiplier", "min_p", "repeat_last_n", "xtc_threshold", "logit_bias"])
      assert.ok(!ignored.includes(f), f);
    const events = parseSse(await res.text());
    assert.equal(events.at(-1), "[DONE]");
    for (const e of events.slice(0, -1)) assert.ok(!("error" in JSON.parse(e)));
  });
});

describe("llama.cpp-style helpers for text-completion front-ends", () => {
  it("tokenizes with special tokens written as text, and detokenizes back", async () => {
    const t = await readJson(
      await srv.post("/tokenize", { content: "<|start_header_id|>user<|end_header_id|>\n\nHello!", with_pieces: true }),
    );
    assert.deepEqual(
      t.tokens.map((x: { id: number }) => x.id),
      [128006, 882, 128007, 271, 9906, 0],
    );
    assert.equal(t.tokens[4].piece, "Hello");
    const d = await readJson(await srv.post("/detokenize", { tokens: [9906, 0] }));
    assert.equal(d.content, "Hello!");
  });

  it("detokenizes to the tokens' exact text: spaces before punctuation kept, control tokens written out", async () => {
    // llama.cpp's whole-sequence detokenize applies Llama 3's "clean up spaces" and turns
    // "Why ? Because ," into "Why? Because,"; llama-server's /detokenize joins the pieces.
    const content = "<|start_header_id|>Why ? Because , it is n't";
    const t = await readJson(await srv.post("/tokenize", { content }));
    const d = await readJson(await srv.post("/detokenize", { tokens: t.tokens }));
    assert.equal(d.content, content);
  });

  it("reports props: context, template, default settings", async () => {
    const p = await readJson(await fetch(`${srv.url}/props`));
    assert.equal(p.default_generation_settings.n_ctx, 2048);
    assert.match(p.chat_template, /start_header_id/);
    assert.equal(p.bos_token, "<|begin_of_text|>");
    assert.equal(p.total_slots, VIA_GATEWAY ? 8 : 4, "4 a node; a gateway counts its two nodes'");
  });

  it("completes a pre-formatted Llama 3 prompt, adding <|begin_of_text|> when missing", async () => {
    const prompt =
      "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    const r = await readJson(await srv.post("/v1/completions", { model: MODEL_ID, prompt, max_tokens: 4, seed: 3 }));
    assert.equal(r.object, "text_completion");
    assert.equal(r.usage.prompt_tokens, 12); // same ids as the chat template renders for "Hello!"
    const withBos = await readJson(
      await srv.post("/v1/completions", {
        model: MODEL_ID,
        prompt: `<|begin_of_text|>${prompt}`,
        max_tokens: 4,
        seed: 3,
      }),
    );
    assert.equal(withBos.usage.prompt_tokens, 12);
    assert.equal(withBos.choices[0].text, r.choices[0].text);
    const chatSame = await text({ messages: [{ role: "user", content: "Hello!" }], max_tokens: 4, seed: 3 });
    assert.equal(chatSame.content, r.choices[0].text);
    const streamed = parseSse(
      await (
        await srv.post("/v1/openai/completions", { model: MODEL_ID, prompt, max_tokens: 4, seed: 3, stream: true })
      ).text(),
    );
    const joined = streamed
      .slice(0, -1)
      .map((e) => JSON.parse(e).choices[0]?.text ?? "")
      .join("");
    assert.equal(joined, r.choices[0].text);
  });
});

describe("operator sampling defaults", () => {
  let greedy: TestServer;
  before(async () => {
    greedy = await startTestServer({ samplingDefaults: { temperature: 0 } });
  });
  after(async () => {
    await greedy.close();
  });

  it("apply to absent fields only: a request's own value still wins", async () => {
    const ask = async (extra: Record<string, unknown>) => {
      const res = await greedy.post("/v1/chat/completions", {
        model: MODEL_ID,
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 8,
        ...extra,
      });
      return (await readJson(res)).choices[0].message.content as string;
    };
    // Greedy by the operator's default: the seed no longer matters.
    assert.equal(await ask({ seed: 1 }), await ask({ seed: 2 }));
    // The request's temperature overrides it: different seeds, different text.
    assert.notEqual(await ask({ seed: 1, temperature: 1 }), await ask({ seed: 2, temperature: 1 }));
  });
});
