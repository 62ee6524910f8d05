import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openApiDocument } from "../../src/api/openapi.js";
import { ROUTES } from "../../src/api/routeTable.js";
import { EngineError, type EngineErrorCode } from "../../src/engine/errors.js";
import type { GenerationEvent } from "../../src/engine/types.js";
import { reply, scriptedApp } from "../helpers/scriptedEngine.js";
import { type Json, parseSse } from "../helpers/testServer.js";

/**
 * The HTTP layer without a model: a scripted Engine and the app in process (`app.request`).
 * What needs the real engine (sampling, grammars, the scheduler) is tested in test/http/.
 */
const MODEL = "Sao10K/L3-8B-Lunaris-v1";
const chat = (extra: object = {}) => ({ model: MODEL, messages: [{ role: "user", content: "hi" }], ...extra });

type App = Awaited<ReturnType<typeof scriptedApp>>;
let t: App;
before(async () => {
  t = await scriptedApp({ apiKeys: ["sk-user"], adminKeys: ["sk-admin"] });
});
after(async () => {
  await t.close();
});

describe("responses, from engine events", () => {
  it("answers a chat in the provider's shape, usage from the engine's counts", async () => {
    t.engine.script = () => reply(["Hel", "lo"], { prompt: 11, cached: 4, reason: "maxTokens" });
    const res = await t.post("/v1/chat/completions", chat());
    assert.equal(res.status, 200);
    const body: Json = await res.json();
    assert.equal(body.object, "chat.completion");
    assert.deepEqual(body.choices[0].message, { role: "assistant", content: "Hello", refusal: null });
    assert.equal(body.choices[0].finish_reason, "length");
    assert.deepEqual(
      { ...body.usage, estimated_cost: undefined },
      {
        prompt_tokens: 11,
        completion_tokens: 2,
        total_tokens: 13,
        estimated_cost: undefined,
        prompt_tokens_details: { cached_tokens: 4 },
      },
    );
    assert.equal(body.usage.estimated_cost, (11 * 0.03 + 2 * 0.06) / 1e6);
  });

  it("frames SSE: role first, a chunk per text, the finish chunk with usage, then [DONE]", async () => {
    t.engine.script = () => reply(["a", "b"]);
    const res = await t.post("/v1/chat/completions", chat({ stream: true }));
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const events = parseSse(await res.text());
    assert.equal(events.at(-1), "[DONE]");
    const chunks: Json[] = events.slice(0, -1).map((e) => JSON.parse(e));
    assert.deepEqual(
      chunks.map((c) => c.choices[0]?.delta),
      [{ role: "assistant", content: "" }, { content: "a" }, { content: "b" }, {}],
    );
    assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
    assert.equal(chunks.at(-1).usage.completion_tokens, 2);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
  });

  it("sends usage alone in a last chunk with stream_options.include_usage", async () => {
    t.engine.script = () => reply(["x"]);
    const events = parseSse(
      await (
        await t.post("/v1/chat/completions", chat({ stream: true, stream_options: { include_usage: true } }))
      ).text(),
    );
    const last: Json = JSON.parse(events.at(-2) as string);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.total_tokens, 8);
  });

  it("ends a stream that fails midway with an error event and [DONE], billed for what was generated", async () => {
    t.engine.script = async function* () {
      yield* [
        { type: "start", promptTokens: 5 },
        { type: "text", choice: 0, text: "par", tokens: 3 },
      ] as GenerationEvent[];
      throw new EngineError("upstream_failed", "The upstream engine stopped answering mid-stream.");
    };
    const events = parseSse(
      await (await t.post("/v1/chat/completions", chat({ stream: true, user: "mid-stream" }))).text(),
    );
    assert.equal(events.at(-1), "[DONE]");
    assert.deepEqual(JSON.parse(events.at(-2) as string).error, {
      message: "The upstream engine stopped answering mid-stream.",
      type: "server_error",
      param: null,
      code: "upstream_failed",
    });
    const rows = await t.accounting.store.usageRows({});
    const row = rows.find((r) => r.user === "mid-stream");
    assert.equal(row?.status, 502);
    assert.equal(row?.completionTokens, 3);
  });

  it("names fields an upstream ignored in x-lunaris-ignored-params", async () => {
    t.engine.script = async function* () {
      yield { type: "start", promptTokens: 1, ignoredParams: ["dry_multiplier"] };
      yield { type: "end", choice: 0, reason: "endOfGeneration", completionTokens: 0 };
    };
    const res = await t.post("/v1/chat/completions", chat());
    assert.equal(res.headers.get("x-lunaris-ignored-params"), "dry_multiplier");
  });
});

describe("errors: every body OpenAI-shaped, with the right status", () => {
  const refusing =
    (code: EngineErrorCode, param: string | null = null, retry: number | null = null) =>
    () => ({
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.reject(new EngineError(code, `refused: ${code}`, param, retry)),
      }),
    });
  const table: [code: EngineErrorCode, status: number, type: string, retryAfter: string | null][] = [
    ["context_length_exceeded", 400, "invalid_request_error", null],
    ["unsupported_schema", 400, "invalid_request_error", null],
    ["unsupported_parameter", 400, "invalid_request_error", null],
    ["queue_full", 429, "rate_limit_error", "3"],
    ["generation_failed", 500, "server_error", null],
    ["upstream_failed", 502, "server_error", null],
    ["queue_timeout", 503, "service_unavailable", "3"],
    ["upstream_unavailable", 503, "service_unavailable", "3"],
  ];
  for (const [code, status, type, retryAfter] of table) {
    it(`${code} → ${status}`, async () => {
      t.engine.script = refusing(code, "messages", retryAfter === null ? null : 3);
      const res = await t.post("/v1/chat/completions", chat());
      assert.equal(res.status, status);
      assert.equal(res.headers.get("retry-after"), retryAfter);
      assert.deepEqual(await res.json(), { error: { message: `refused: ${code}`, type, param: "messages", code } });
    });
  }

  it("bad JSON, an unknown model, an unknown route, a bad field", async () => {
    const cases: [Response, number, string | null, string | null][] = [
      [await t.post("/v1/chat/completions", "{not json"), 400, "invalid_json", null],
      [await t.post("/v1/chat/completions", chat({ model: "gpt-4" })), 404, "model_not_found", "model"],
      [await t.post("/v1/nope", {}), 404, "unknown_url", null],
      [await t.post("/v1/chat/completions", chat({ temperature: 3 })), 400, "invalid_value", "temperature"],
    ];
    for (const [res, status, code, param] of cases) {
      assert.equal(res.status, status);
      const e: Json = ((await res.json()) as Json).error;
      assert.deepEqual([e.code, e.param, typeof e.message, typeof e.type], [code, param, "string", "string"]);
    }
  });

  it("a request that outlives the server's limit is a 504", async () => {
    const slow = await scriptedApp({ requestTimeoutMs: 50 });
    slow.engine.script = async function* (r) {
      yield { type: "start", promptTokens: 1 };
      await new Promise((resolve) => r.signal?.addEventListener("abort", resolve));
      yield { type: "end", choice: 0, reason: "aborted", completionTokens: 0 };
    };
    // The request timer does not hold the process open (unref'd): something else must meanwhile.
    const alive = setInterval(() => {}, 1_000);
    const res = await Promise.resolve(slow.post("/v1/chat/completions", chat())).finally(() => clearInterval(alive));
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as Json).error.code, "request_timeout");
    await slow.close();
  });
});

describe("keys, CORS, keep-alive", () => {
  it("refuses a missing or wrong key, and non-admins on admin routes", async () => {
    const noKey = await t.app.request("/v1/models");
    assert.equal(noKey.status, 401);
    assert.equal(((await noKey.json()) as Json).error.code, "invalid_api_key");
    assert.equal((await t.app.request("/v1/models", { headers: { authorization: "Bearer sk-wrong" } })).status, 401);
    assert.equal((await t.app.request("/v1/admin/keys", { headers: { authorization: "Bearer sk-user" } })).status, 403);
    assert.equal(
      (await t.app.request("/v1/admin/keys", { headers: { authorization: "Bearer sk-admin" } })).status,
      200,
    );
    assert.equal((await t.app.request("/tokenize", { method: "POST", body: "{}" })).status, 401);
    assert.equal((await t.app.request("/health")).status, 200);
  });

  it("answers a browser's preflight", async () => {
    const res = await t.app.request("/v1/chat/completions", {
      method: "OPTIONS",
      headers: {
        origin: "https://chat.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("access-control-allow-headers") ?? "", /authorization/i);
  });

  it("keeps a silent stream alive with SSE comments", async () => {
    const quiet = await scriptedApp({ sseKeepAliveMs: 20 });
    quiet.engine.script = async function* () {
      yield { type: "start", promptTokens: 1 };
      await new Promise((r) => setTimeout(r, 150));
      yield* reply(["late"]);
    };
    const text = await (await quiet.post("/v1/chat/completions", chat({ stream: true }))).text();
    assert.match(text, /^: keep-alive$/m);
    assert.match(text, /"late"/);
    await quiet.close();
  });
});

describe("the route table", () => {
  it("is what the app serves and what /openapi.json describes", async () => {
    const doc: Json = await (await t.app.request("/openapi.json")).json();
    const served = t.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method.toLowerCase()} ${r.path}`);
    const table = ROUTES.map((r) => `${r.method} ${r.path}`);
    assert.deepEqual([...new Set(served)].sort(), [...table].sort());
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([p, ops]) =>
      Object.keys(ops)
        .filter((k) => k !== "parameters")
        .map((m) => `${m} ${p}`),
    );
    assert.equal(documented.length, ROUTES.length);
    for (const r of ROUTES)
      assert.ok(
        documented.includes(`${r.method} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}")}`),
        `${r.method} ${r.path}`,
      );
    for (const p of ["/tokenize", "/detokenize", "/props", "/completion", "/v1/admin/keys/{id}", "/v1/admin/upstreams"])
      assert.ok(doc.paths[p], p);
    assert.deepEqual(openApiDocument(ROUTES), doc);
  });
});

describe("per-key limits, on an injected clock", () => {
  it("trips requests per minute with OpenAI's headers, and recovers the next minute", async () => {
    let now = Date.UTC(2026, 11, 5, 12, 0, 0);
    const limited = await scriptedApp({ adminKeys: ["sk-admin"], now: () => now });
    const created = await limited.app.request("/v1/admin/keys", {
      method: "POST",
      headers: { authorization: "Bearer sk-admin", "content-type": "application/json" },
      body: JSON.stringify({ name: "two a minute", rpm: 2 }),
    });
    const key: Json = await created.json();
    const ask = () => limited.post("/v1/chat/completions", chat(), { authorization: `Bearer ${key.secret}` });
    assert.equal((await ask()).status, 200);
    const second = await ask();
    assert.equal(second.headers.get("x-ratelimit-remaining-requests"), "0");
    const third = await ask();
    assert.equal(third.status, 429);
    assert.equal(((await third.json()) as Json).error.code, "rate_limit_exceeded");
    assert.ok(Number(third.headers.get("retry-after")) > 0);
    now += 60_000;
    assert.equal((await ask()).status, 200);
    await limited.close();
  });
});
