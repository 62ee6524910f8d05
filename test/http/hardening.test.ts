import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import parsePrometheus from "parse-prometheus-text-format";
import { capturedLogger } from "../helpers/logCapture.js";
import { type Json, MODEL_ID, type TestServer, parseSse, readJson, startTestServer } from "../helpers/testServer.js";

/**
 * What a hostile-client campaign broke, each through the real server and engine on the tiny
 * model: one request crashing the process, freezing it, or holding it for minutes; schemas
 * the grammar engine refused with a 500 or silently did not enforce; requests that left no
 * trace. (Auth, leases and RPM are in test/accounting/tenants.suite.ts; the campaign itself,
 * bounded for CI, in test/http/fuzz.test.ts.)
 */
const KEY = "sk-hardening";
const { logger, lines: logLines } = capturedLogger();

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ apiKeys: [KEY], ctxSize: 2048 }, logger);
});
after(async () => {
  await srv.close();
});

const user = (content: string) => [{ role: "user" as const, content }];
const M = { model: MODEL_ID, messages: user("x") };
const chat = (body: Record<string, unknown>) => srv.post("/v1/chat/completions", body);

/** Token ids whose text starts with `prefix` (after leading spaces). */
async function tokensStartingWith(prefix: string): Promise<number[]> {
  const engine = srv.engine();
  assert.ok(engine);
  const out: number[] = [];
  for (let t = 0; t < 128_256; t++) if ((await engine.detokenize([t])).trimStart().startsWith(prefix)) out.push(t);
  return out;
}

async function expectError(res: Response, status: number, param: string | null, code?: string): Promise<Json> {
  const body = await readJson(res);
  assert.equal(res.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
  assert.equal(body.error.param, param);
  if (code) assert.equal(body.error.code, code);
  return body;
}

async function stillServing(): Promise<void> {
  assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  const r = await chat({ ...M, max_tokens: 3 });
  assert.equal(r.status, 200);
  for (let i = 0; i < 50 && (srv.engine()?.stats().activeSequences ?? 1) > 0; i++) await sleep(20);
  assert.equal(srv.engine()?.stats().activeSequences, 0, "no sequence leaked");
}

describe("one request cannot crash the server", () => {
  it("XTC at threshold 0 beside a grammar (JSON object, JSON schema, required tool) completes", async () => {
    const xtc = { xtc_probability: 1, xtc_threshold: 0, max_tokens: 50, seed: 3 };
    const schema = { type: "object", properties: { a: { type: "integer" } }, required: ["a"] };
    const tools = [{ type: "function", function: { name: "f", parameters: schema } }];
    const bodies = [
      { ...M, ...xtc, response_format: { type: "json_object" } },
      { ...M, ...xtc, response_format: { type: "json_schema", json_schema: { name: "s", schema } } },
      { ...M, ...xtc, tools, tool_choice: "required" },
    ];
    for (const body of bodies) {
      const res = await chat(body);
      const json = await readJson(res);
      assert.equal(res.status, 200, JSON.stringify(json));
      const message = json.choices[0].message;
      if (message.tool_calls) JSON.parse(message.tool_calls[0].function.arguments);
      else if (json.choices[0].finish_reason === "stop") JSON.parse(message.content);
    }
    await stillServing();
  });

  it("an error inside one generation ends that request alone: an error status before the first byte, an error event after", async () => {
    // Every token that could open a JSON object banned: no token satisfies the grammar.
    const bans = (await tokensStartingWith("{")).map((t) => [t, false]);
    const impossible = { ...M, response_format: { type: "json_object" }, logit_bias: bans, max_tokens: 20 };
    const beside = srv.client.chat.completions.create({
      model: MODEL_ID,
      messages: user("Keep going"),
      max_tokens: 60,
    });
    const res = await chat(impossible);
    // The request's own bans left the grammar no token: its fault, a 400 naming logit_bias.
    const body = await expectError(res, 400, "logit_bias", "grammar_unsatisfiable");
    assert.equal(body.error.type, "invalid_request_error");
    const streamed = await chat({ ...impossible, stream: true });
    assert.equal(streamed.status, 200);
    const events = parseSse(await streamed.text());
    assert.equal(events.at(-1), "[DONE]");
    const error = JSON.parse(events.at(-2) ?? "{}");
    assert.equal(error.error.code, "grammar_unsatisfiable");
    const other = await beside;
    assert.equal(other.choices[0]?.finish_reason, "length", "the request beside it finished normally");
    await stillServing();
  });
});

describe("one request cannot freeze the server or hold it for minutes", () => {
  it("clamps dry_penalty_last_n to the context (5e8 used to allocate 3.8 GiB on the JS thread)", async () => {
    const rss = process.memoryUsage().rss;
    const res = await chat({ ...M, max_tokens: 3, n: 2, dry_multiplier: 0.8, dry_penalty_last_n: 500_000_000 });
    assert.equal(res.status, 200);
    const grown = process.memoryUsage().rss - rss;
    assert.ok(grown < 512 * 2 ** 20, `RSS grew ${Math.round(grown / 2 ** 20)} MiB`);
  });

  it("caps DRY sequence breakers: each costs a pass over the vocabulary", async () => {
    const breakers = (n: number) => Array.from({ length: n }, (_, i) => `b${i}`);
    const dry = { ...M, max_tokens: 2, dry_multiplier: 0.8 };
    assert.equal((await chat({ ...dry, dry_sequence_breakers: breakers(8) })).status, 200);
    await expectError(await chat({ ...dry, dry_sequence_breakers: breakers(9) }), 400, "dry_sequence_breakers");
    await expectError(
      await chat({ ...dry, dry_sequence_breakers: JSON.stringify(breakers(1000)) }),
      400,
      "dry_sequence_breakers",
    );
    await expectError(await chat({ ...dry, dry_sequence_breakers: ["x".repeat(33)] }), 400, "dry_sequence_breakers[0]");
  });

  it("refuses the fields that held the server for minutes: a 2 MB ban list, 200k biases, a 100,000-value enum", async () => {
    await expectError(await chat({ ...M, banned_tokens: "word\n".repeat(400_000) }), 400, "banned_tokens");
    await expectError(
      await chat({ ...M, banned_tokens: Array.from({ length: 1025 }, (_, i) => i) }),
      400,
      "banned_tokens",
    );
    const bias = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), -1]));
    await expectError(await chat({ ...M, logit_bias: bias(200_000) }), 400, "logit_bias");
    await expectError(await chat({ ...M, logit_bias: bias(301) }), 400, "logit_bias");
    assert.equal((await chat({ ...M, max_tokens: 2, logit_bias: bias(300) })).status, 200);
    const enumSchema = { type: "string", enum: Array.from({ length: 100_000 }, (_, i) => `v${i}`) };
    const res = await chat({
      ...M,
      response_format: { type: "json_schema", json_schema: { name: "e", schema: enumSchema } },
    });
    const body = await expectError(res, 400, "response_format.json_schema.schema", "unsupported_schema");
    assert.match(body.error.message, /#\/enum/);
    await stillServing();
  });

  it("refuses a prompt too long for the context before tokenizing it", async () => {
    const res = await chat({ ...M, messages: user("word ".repeat(1_000_000)) });
    const body = await expectError(res, 400, "messages", "context_length_exceeded");
    assert.match(body.error.message, /at least/);
  });
});

describe("schemas are compiled and enforced, or refused with 400 naming the place", () => {
  const withSchema = (schema: unknown, extra: Record<string, unknown> = {}) =>
    chat({
      ...M,
      max_tokens: 4,
      response_format: { type: "json_schema", json_schema: { name: "s", schema } },
      ...extra,
    });

  it("compiles counts the grammar engine used to refuse or leave unbounded", async () => {
    const compiled = [
      { type: "string", minLength: 2000 },
      { type: "string", maxLength: 2000 },
      { type: "string", maxLength: 100_000 },
      { type: "array", items: { type: "integer" }, minItems: 2000 },
      { type: "string", pattern: "^a{2001}$" },
      { type: "string", format: "uuid" },
      { type: "string", pattern: "^[0-9]{50}-[a-z]{50}$" },
    ];
    for (const schema of compiled) {
      const res = await withSchema(schema);
      assert.equal(res.status, 200, `${JSON.stringify(schema)}: ${await res.text()}`);
    }
  });

  it("refuses what it cannot run, with the JSON pointer", async () => {
    let deep: Json = { type: "string" };
    for (let i = 0; i < 3000; i++) deep = { type: "array", items: deep };
    const refused: [unknown, RegExp][] = [
      [{ type: "string", minLength: 2.5 }, /#\/minLength/],
      [{ type: "string", minLength: -1 }, /#\/minLength/],
      [{ type: "array", maxItems: 1e9 }, /#\/maxItems/],
      [{ type: "string", pattern: "^(.*){1,1000}$" }, /#\/pattern/],
      [{ type: "string", pattern: "^(a*)*$" }, /#\/pattern/],
      [{ $ref: "#" }, /\$ref/],
      [{ anyOf: [{ $ref: "#" }, { type: "string" }] }, /\$ref/],
      [deep, /deeper than 64/],
    ];
    for (const [schema, where] of refused) {
      const body = await expectError(
        await withSchema(schema),
        400,
        "response_format.json_schema.schema",
        "unsupported_schema",
      );
      assert.match(body.error.message, where);
    }
    await stillServing();
  });

  it("enforces maxLength above 2000 (llama.cpp made {0,2001} unbounded: 8,001 characters came back)", async () => {
    const engine = srv.engine();
    assert.ok(engine);
    // The longest run of 'a's the vocabulary has as one token, pushed hard: the string grows until the grammar stops it.
    const aTokens = await engine.tokenize("a".repeat(64), false);
    const lengths = await Promise.all(aTokens.map(async (t) => (await engine.detokenize([t])).length));
    const longest = aTokens[lengths.indexOf(Math.max(...lengths))];
    const res = await withSchema(
      { type: "string", maxLength: 2010 },
      { max_tokens: 1200, logit_bias: { [String(longest)]: 100 } },
    );
    const json = await readJson(res);
    assert.equal(res.status, 200, JSON.stringify(json));
    const text = JSON.parse(json.choices[0].message.content) as string;
    assert.ok(text.length <= 2010, `${text.length} characters`);
    assert.ok(text.length > 2000, `the bias pushed the string to its bound (${text.length})`);
  });

  it("admits no invented keys when additionalProperties is absent", async () => {
    const comma = (await srv.engine()?.tokenize(",", false))?.[0];
    const schema = { type: "object", properties: { a: { type: "integer" }, b: { type: "boolean" } }, required: ["a"] };
    for (const seed of [1, 2, 3, 4]) {
      // A comma pushed hard after every value: the grammar's only way to use it is the next declared key.
      const res = await withSchema(schema, { max_tokens: 60, seed, logit_bias: { [String(comma)]: 20 } });
      const json = await readJson(res);
      assert.equal(res.status, 200);
      if (json.choices[0].finish_reason !== "stop") continue;
      const keys = Object.keys(JSON.parse(json.choices[0].message.content));
      assert.ok(
        keys.every((k) => k === "a" || k === "b"),
        keys.join(","),
      );
    }
  });
});

describe("every request leaves a trace", () => {
  async function metric(status: string): Promise<number> {
    const families = parsePrometheus(await (await fetch(`${srv.url}/metrics`)).text());
    const reqs = families.find((f) => f.name === "lunaris_requests_total");
    const sum = (reqs?.metrics ?? [])
      .filter((m) => (m as { labels?: Record<string, string> }).labels?.status === status)
      .reduce((a, m) => a + Number((m as { value?: string }).value ?? 0), 0);
    return sum;
  }

  it("ends in one log line and one metric, also when its client left before the response started", async () => {
    const before499 = await metric("499");
    const logged = () => logLines.filter((l) => l.includes('"status":499')).length;
    const linesBefore = logged();
    // Four long streams take every sequence; the twelve after them wait in the queue.
    const holders = Array.from({ length: 4 }, () => new AbortController());
    const held = holders.map((h) =>
      fetch(`${srv.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ ...M, max_tokens: 400, stream: true }),
        signal: h.signal,
      })
        .then((r) => r.text())
        .catch(() => ""),
    );
    await sleep(100);
    const leavers = Array.from({ length: 12 }, async (_, i) => {
      const a = new AbortController();
      const req = fetch(`${srv.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ ...M, max_tokens: 50, stream: i % 2 === 0 }),
        signal: a.signal,
      }).catch(() => null);
      await sleep(10 + i * 5);
      a.abort();
      await req;
    });
    await Promise.all(leavers);
    for (const h of holders) h.abort();
    await Promise.all(held);
    for (let i = 0; i < 100 && logged() - linesBefore < 16; i++) await sleep(20);
    assert.equal(logged() - linesBefore, 16, "one 499 line per request whose client left");
    assert.equal((await metric("499")) - before499, 16);
    await stillServing();
  });
});

describe("keys are compared as HTTP sends them", () => {
  const raw = (authorization: string) =>
    new Promise<number>((resolve, reject) => {
      const u = new URL(`${srv.url}/v1/models`);
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { authorization } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });

  it("ignores whitespace around the key (HTTP's optional whitespace), never inside it", async () => {
    assert.equal(await raw(`Bearer ${KEY}`), 200);
    assert.equal(await raw(`Bearer ${KEY}  \t`), 200);
    assert.equal(await raw(`Bearer    ${KEY}`), 200);
    assert.equal(await raw(`Bearer ${KEY.slice(0, 4)} ${KEY.slice(4)}`), 401);
    assert.equal(await raw(`Bearer ${KEY}x`), 401);
  });
});
