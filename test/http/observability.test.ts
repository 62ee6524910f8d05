import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import parsePrometheus from "parse-prometheus-text-format";
import { Ajv2020 } from "ajv/dist/2020.js";
import { capturedLogger } from "../helpers/logCapture.js";
import { type Json, MODEL_ID, type TestServer, readJson, startTestServer } from "../helpers/testServer.js";

const { logger, lines } = capturedLogger();

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ apiKeys: ["sk-observed-key"] }, logger);
});
after(async () => {
  await srv.close();
});

async function metrics(): Promise<
  Map<string, { type: string; metrics: { value?: string; labels?: Record<string, string>; count?: string }[] }>
> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  return new Map(parsePrometheus(text).map((f) => [f.name, f]));
}
const value = (m: Awaited<ReturnType<typeof metrics>>, name: string, labels: Record<string, string> = {}) =>
  Number(
    m.get(name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))?.value ??
      Number.NaN,
  );
const count = (m: Awaited<ReturnType<typeof metrics>>, name: string) =>
  Number(m.get(name)?.metrics[0]?.count ?? Number.NaN);

describe("operators' view", () => {
  it("exposes Prometheus metrics that move after requests", async () => {
    const before = await metrics();
    assert.equal(before.get("lunaris_requests_total")?.type, "COUNTER");
    assert.equal(before.get("lunaris_time_to_first_token_seconds")?.type, "HISTOGRAM");
    assert.ok(before.has("lunaris_process_resident_memory_bytes"));
    // Sampled every 100 ms instead of prom-client's 10 ms (metrics.ts): still reported.
    assert.ok(value(before, "lunaris_nodejs_eventloop_lag_p99_seconds") >= 0);
    assert.ok(value(before, "lunaris_model_load_seconds") > 0);
    assert.equal(value(before, "lunaris_sequences"), 4);
    const ask = () =>
      srv.client.chat.completions.create({
        model: MODEL_ID,
        messages: [{ role: "user", content: "Count with me" }],
        max_tokens: 5,
      });
    await ask();
    await ask(); // same prompt: served from the prefix cache
    const afterwards = await metrics();
    const route = { route: "/v1/openai/chat/completions", status: "200" };
    const reqs = (m: typeof before) =>
      Number.isNaN(value(m, "lunaris_requests_total", route)) ? 0 : value(m, "lunaris_requests_total", route);
    assert.equal(reqs(afterwards) - reqs(before), 2);
    assert.ok(value(afterwards, "lunaris_tokens_total", { kind: "prompt" }) >= 2 * 11);
    assert.ok(value(afterwards, "lunaris_tokens_total", { kind: "completion" }) >= 2);
    assert.ok(value(afterwards, "lunaris_tokens_total", { kind: "cached" }) > 0);
    assert.ok(value(afterwards, "lunaris_prefix_cache_hit_ratio") > 0);
    assert.equal(
      count(afterwards, "lunaris_request_duration_seconds") - (count(before, "lunaris_request_duration_seconds") || 0),
      2,
    );
    assert.ok(value(afterwards, "lunaris_generation_tokens_per_second") > 0);
    assert.equal(value(afterwards, "lunaris_queue_depth"), 0);
  });

  it("logs one JSON line per request with the request id, key prefix and tokens, never the prompt or key", async () => {
    const secretPrompt = "my very private prompt text";
    const res = await srv.post(
      "/v1/chat/completions",
      { model: MODEL_ID, messages: [{ role: "user", content: secretPrompt }], max_tokens: 3 },
      { authorization: "Bearer sk-observed-key", "x-request-id": "req-abc-123" },
    );
    assert.equal(res.headers.get("x-request-id"), "req-abc-123");
    const body = await readJson(res);
    await new Promise((r) => setTimeout(r, 50));
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = parsed.find((l) => l.req_id === "req-abc-123");
    assert.ok(line, "a log line for the request");
    assert.equal(line.status, 200);
    assert.equal(line.model, MODEL_ID);
    assert.equal(line.prompt_tokens, body.usage.prompt_tokens);
    assert.equal(line.completion_tokens, body.usage.completion_tokens);
    assert.equal(typeof line.completion_tokens, "number");
    assert.equal(typeof line.ms, "number");
    assert.equal(line.key, "env-0");
    const all = lines.join("\n");
    assert.ok(!all.includes(secretPrompt), "the prompt is never logged");
    assert.ok(!all.includes("sk-observed-key"), "the key is never logged");
    const generated = await fetch(`${srv.url}/health`);
    assert.match(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });

  it("publishes an OpenAPI document generated from the validation schemas", async () => {
    const doc = await readJson(await fetch(`${srv.url}/openapi.json`));
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.paths["/v1/openai/chat/completions"].post);
    const props = doc.components.schemas.ChatCompletionRequest.properties;
    // Nullable fields are `anyOf: [schema, {type: "null"}]` in 2020-12.
    const value = (p: Json) => (p.anyOf ? p.anyOf.find((b: Json) => b.type !== "null") : p);
    assert.equal(value(props.temperature).maximum, 2);
    assert.equal(value(props.n).maximum, 4);
    assert.equal(value(props.stop).anyOf[1].maxItems, 16);
    assert.deepEqual(doc.components.schemas.ChatCompletionRequest.required, ["model", "messages"]);
    // OpenAPI 3.1 schemas are JSON Schema 2020-12: each one must be a valid schema of that draft.
    const ajv = new Ajv2020({ strict: false });
    for (const [name, s] of Object.entries(doc.components.schemas as Record<string, object>)) {
      assert.ok(ajv.validateSchema(s), `${name}: ${ajv.errorsText(ajv.errors)}`);
    }
    const validate = ajv.compile(doc.components.schemas.ChatCompletionRequest);
    assert.ok(
      validate({ model: MODEL_ID, messages: [{ role: "user", content: "x" }], logit_bias: [[5, false]] }),
      ajv.errorsText(validate.errors),
    );
    assert.ok(!validate({ model: MODEL_ID, messages: [], temperature: 3 }));
    for (const status of ["403", "413"])
      assert.ok(doc.paths["/v1/admin/keys"].post.responses[status], `${status} documented`);
    // The server URL is relative, never taken from a client's Host header.
    const spoofed = await readJson(await fetch(`${srv.url}/openapi.json`, { headers: { host: "evil.example" } }));
    assert.deepEqual(spoofed.servers, [{ url: "/" }]);
  });
});
