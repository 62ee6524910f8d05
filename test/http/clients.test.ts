import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { type Json, MODEL_ID, type TestServer, parseSse, readJson, startTestServer } from "../helpers/testServer.js";

/**
 * The clients people really use, through the real server and engine: the official `openai`
 * client, and the request bodies SillyTavern 1.18 really sent (recorded by a logging proxy,
 * test/fixtures/sillytavern-1.18, copied from the recordings), replayed as they were.
 */
const KEY = "sk-clients";
const FIXTURES = path.resolve("test/fixtures/sillytavern-1.18");

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ apiKeys: [KEY], alias: ["lunaris"] });
});
after(async () => {
  await srv.close();
});

const post = (p: string, body: unknown) => srv.post(p, body);

describe("the openai client", () => {
  it("retrieves a model by id or alias, with the slash encoded or raw, as in the list", async () => {
    const listed = await srv.client.models.list();
    const entry = listed.data.find((m) => m.id === MODEL_ID);
    assert.ok(entry);
    const retrieved = await srv.client.models.retrieve(MODEL_ID); // sent as Sao10K%2FL3-8B-Lunaris-v1
    assert.deepEqual(retrieved, entry);
    const plain = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: KEY, maxRetries: 0 });
    assert.equal((await plain.models.retrieve("lunaris")).id, "lunaris");
    const raw = await fetch(`${srv.url}/v1/models/${MODEL_ID}`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(raw.status, 200);
    assert.deepEqual(await raw.json(), entry);
    await assert.rejects(
      srv.client.models.retrieve("gpt-4"),
      (e: unknown) => e instanceof OpenAI.NotFoundError && (e.error as Json).code === "model_not_found",
    );
    const doc = await readJson(await fetch(`${srv.url}/openapi.json`));
    assert.ok(doc.paths["/v1/models/{id}"]?.get);
  });

  it("a named tool_choice makes exactly one call of that function", async () => {
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { city: { type: "string", maxLength: 8 } }, required: ["city"] },
        },
      },
    ];
    for (const seed of [1, 2, 3]) {
      const r = await srv.client.chat.completions.create({
        model: MODEL_ID,
        messages: [{ role: "user", content: "Weather in Oslo and Bergen?" }],
        tools,
        tool_choice: { type: "function", function: { name: "get_weather" } },
        max_tokens: 80,
        seed,
      });
      const calls = r.choices[0]?.message.tool_calls ?? [];
      assert.equal(calls.length, 1, `seed ${seed}: ${calls.length} calls`);
      assert.equal(r.choices[0]?.finish_reason, "tool_calls");
    }
  });

  it("legacy echo with logprobs: the prompt's first token has a null logprob, as in OpenAI", async () => {
    const r = await readJson(
      await post("/v1/completions", {
        model: MODEL_ID,
        prompt: "Hello there, friend",
        echo: true,
        logprobs: 2,
        max_tokens: 2,
      }),
    );
    const lp = r.choices[0].logprobs;
    assert.equal(lp.tokens[0], "Hello");
    assert.equal(lp.token_logprobs[0], null);
    assert.equal(lp.top_logprobs[0], null);
    assert.equal(typeof lp.token_logprobs[1], "number");
  });
});

describe("SillyTavern's llama.cpp Text Completion type: llama-server's native /completion", () => {
  const fixture = (name: string): Json => JSON.parse(readFileSync(path.join(FIXTURES, name), "utf8"));

  it("answers the recorded non-streamed request in llama-server's shape, metered", async () => {
    const recorded = fixture("completion-1.json");
    const res = await post(recorded.path, recorded.body);
    const body = await readJson(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(typeof body.content, "string");
    assert.equal(body.stop, true);
    assert.ok(body.tokens_predicted > 0 && body.tokens_predicted <= 24);
    assert.ok(body.tokens_evaluated > 20);
    assert.ok(["eos", "limit", "word"].includes(body.stop_type));
    for (const k of ["prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "predicted_per_second"])
      assert.equal(typeof body.timings[k], "number", k);
    // The samplers SillyTavern lists that this engine lacks are named, never silently dropped.
    const ignored = res.headers.get("x-lunaris-ignored-params") ?? "";
    assert.match(ignored, /samplers:typ_p/);
    assert.match(ignored, /samplers:top_n_sigma/);
    assert.doesNotMatch(ignored, /samplers:order/, "its order of the known samplers is the engine's");
    for (const f of [
      "repeat_penalty",
      "rep_pen",
      "custom_token_bans",
      "min_p",
      "top_k",
      "dry_multiplier",
      "xtc_probability",
      "n_predict",
    ]) {
      assert.ok(!ignored.split(",").includes(f), f);
    }
  });

  it("streams the recorded request as llama-server does: content chunks, then stop with timings, no [DONE]", async () => {
    const recorded = fixture("completion-2.json");
    const res = await post(recorded.path, recorded.body);
    assert.equal(res.status, 200);
    const events = parseSse(await res.text()).map((e) => JSON.parse(e) as Json);
    const last = events.at(-1);
    assert.equal(last.stop, true);
    assert.equal(typeof last.timings.predicted_n, "number");
    assert.ok(events.slice(0, -1).every((e) => e.stop === false && typeof e.content === "string"));
    const text = events.map((e) => e.content).join("");
    assert.ok(text.length > 0);
  });

  it("applies the samplers it is sent: top_k 1 makes the output greedy, the samplers list can turn one off", async () => {
    const recorded = fixture("completion-1.json");
    const ask = async (over: Record<string, unknown>) =>
      (await readJson(await post("/completion", { ...recorded.body, n_predict: 16, ...over }))).content as string;
    const greedy = await ask({ temperature: 0 });
    assert.equal(await ask({ top_k: 1, temperature: 1.5, seed: 11 }), greedy, "top_k 1 leaves one candidate");
    const sampled = await Promise.all(
      [11, 12, 13].map((seed) => ask({ top_k: 0, top_p: 1, min_p: 0, temperature: 1.5, seed })),
    );
    assert.ok(
      sampled.some((t) => t !== greedy),
      "without top_k, temperature 1.5 samples other tokens",
    );
    const topKOff = await ask({
      top_k: 1,
      temperature: 1.5,
      seed: 12,
      top_p: 1,
      min_p: 0,
      samplers: ["penalties", "dry", "top_p", "min_p", "xtc", "temperature"],
    });
    assert.equal(
      topKOff,
      await ask({ top_k: 0, temperature: 1.5, seed: 12, top_p: 1, min_p: 0 }),
      "top_k left out of samplers is off",
    );
  });

  it("returns completion_probabilities with n_probs, and meters every request", async () => {
    const body = await readJson(
      await post("/completion", { prompt: "Once upon a time", n_predict: 3, n_probs: 2, temperature: 0 }),
    );
    assert.equal(body.completion_probabilities.length, body.tokens_predicted);
    const first = body.completion_probabilities[0];
    assert.equal(typeof first.logprob, "number");
    assert.equal(first.top_logprobs.length, 2);
    const usage = await readJson(await fetch(`${srv.url}/v1/usage`, { headers: { authorization: `Bearer ${KEY}` } }));
    assert.ok(usage.totals.requests > 0);
  });

  it("refuses raw GBNF and bad fields with OpenAI-shaped errors", async () => {
    const raw = await post("/completion", { prompt: "x", grammar: 'root ::= "a"' });
    assert.equal(raw.status, 400);
    assert.equal((await readJson(raw)).error.param, "grammar");
    const bad = await post("/completion", { prompt: "x", n_probs: 99 });
    assert.equal((await readJson(bad)).error.param, "n_probs");
  });
});

describe("SillyTavern's ban lists and sampler aliases", () => {
  const plain = {
    model: MODEL_ID,
    messages: [{ role: "user", content: "Repeat" }],
    temperature: 0,
    max_tokens: 8,
    seed: 1,
  };
  const content = async (body: Record<string, unknown>) =>
    (await readJson(await post("/v1/chat/completions", body))).choices[0].message.content as string;

  it("custom_token_bans (comma-separated ids) bans those tokens", async () => {
    const greedy = await content(plain);
    const first = (await srv.engine()?.tokenize(greedy, false))?.[0];
    assert.ok(first !== undefined);
    const banned = await content({ ...plain, custom_token_bans: `${first}, 5` });
    assert.notEqual((await srv.engine()?.tokenize(banned, false))?.[0], first);
    const bad = await post("/v1/chat/completions", { ...plain, custom_token_bans: "12,abc" });
    assert.equal((await readJson(bad)).error.param, "custom_token_bans");
  });

  it("repeat_penalty and rep_pen count when repetition_penalty is absent", async () => {
    const base = { ...plain, max_tokens: 24, messages: [{ role: "user", content: "again again again" }] };
    const none = await content(base);
    const viaRepetition = await content({ ...base, repetition_penalty: 5 });
    assert.notEqual(viaRepetition, none, "the penalty changes this greedy output");
    assert.equal(await content({ ...base, repeat_penalty: 5 }), viaRepetition);
    assert.equal(await content({ ...base, rep_pen: 5 }), viaRepetition);
    const res = await post("/v1/chat/completions", { ...base, rep_pen: 5 });
    assert.ok(!(res.headers.get("x-lunaris-ignored-params") ?? "").includes("rep_pen"));
  });

  it("replays every recorded SillyTavern body with the status it should get", async () => {
    for (const name of readdirSync(FIXTURES).filter((f) => f.endsWith(".json"))) {
      const recorded = JSON.parse(readFileSync(path.join(FIXTURES, name), "utf8")) as Json;
      // Two bodies were deliberate errors (temperature 5 on the chat API): 400 then and now.
      const expected = recorded.status_seen === 400 ? 400 : 200;
      const body = typeof recorded.body === "object" ? { ...recorded.body } : recorded.body;
      if (body && typeof body === "object") {
        // Keep replays short: the recorded max_tokens are SillyTavern's defaults (up to 300).
        for (const k of ["max_tokens", "n_predict", "max_new_tokens"])
          if (typeof body[k] === "number") body[k] = Math.min(body[k], 12);
      }
      const res = await post(recorded.path, body);
      const text = await res.text();
      assert.equal(res.status, expected, `${name}: ${text.slice(0, 300)}`);
      if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) {
        assert.ok(!text.includes('"error"'), `${name}: ${text.slice(0, 300)}`);
      }
    }
  });
});

describe("keep-alive connections, as older SillyTavern (node-fetch 2) uses them", () => {
  it("serves a non-streamed request on the same connection right after a streamed one", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const u = new URL(srv.url);
    const send = (body: object) =>
      new Promise<{ status: number; text: string; port: number | undefined }>((resolve, reject) => {
        const data = JSON.stringify(body);
        const req = http.request(
          {
            host: u.hostname,
            port: u.port,
            path: "/v1/chat/completions",
            method: "POST",
            agent,
            headers: {
              "content-type": "application/json",
              authorization: `Bearer ${KEY}`,
              "content-length": Buffer.byteLength(data),
            },
          },
          (res) => {
            let text = "";
            res.on("data", (d: Buffer) => (text += d.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, text, port: req.socket?.localPort }));
          },
        );
        req.on("error", reject);
        req.end(data);
      });
    try {
      const base = { model: MODEL_ID, messages: [{ role: "user", content: "Hi" }], max_tokens: 4 };
      for (let i = 0; i < 3; i++) {
        const streamed = await send({ ...base, stream: true });
        assert.equal(streamed.status, 200);
        assert.ok(streamed.text.endsWith("data: [DONE]\n\n"));
        const plain = await send(base);
        assert.equal(plain.status, 200, plain.text);
        assert.equal(plain.port, streamed.port, "the same connection");
      }
    } finally {
      agent.destroy();
    }
  });

  it("answers a request Node's HTTP parser refuses with an OpenAI-shaped 400, logged and counted", async () => {
    const u = new URL(srv.url);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(u.port), u.hostname, () =>
        socket.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
      );
      let text = "";
      socket.on("data", (d) => (text += d.toString()));
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    assert.match(reply, /^HTTP\/1.1 400/);
    const body = JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4)) as Json;
    assert.equal(body.error.code, "malformed_http");
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /lunaris_requests_total\{route="unparsed",status="400"\} [1-9]/);
  });
});
