import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import OpenAI from "openai";
import pg from "pg";
import { chatCompletionRequestSchema } from "../../src/api/protocol/chatCompletionRequest.js";
import { toGenerationRequest } from "../../src/api/translate/toGenerationRequest.js";
import { parseServeConfig } from "../../src/config/serveConfig.js";
import { NODE_PATHS, decodeEvent, encodeRequest } from "../../src/engine/remote/nodeProtocol.js";
import { startNode } from "../../src/node/startNode.js";
import { type ServerProcess, lunaris, spawnServer } from "../helpers/cliServer.js";
import { freshDatabase, type TestDatabase } from "../helpers/databases.js";
import { type LlamaServerProcess, spawnLlamaServer } from "../helpers/llamaServer.js";
import { MODEL_ID, type Json, parseSse } from "../helpers/testServer.js";

const execFileP = promisify(execFile);
const SECRET = "fleet-test-cluster-secret";
const ADMIN = "sk-admin-fleet-test-0001";

let db: TestDatabase;
let nodeA: ServerProcess;
let nodeB: ServerProcess;
let gw1: ServerProcess;
let gw2: ServerProcess;

const nodeArgs = (port = "0") => ["--role", "engine", "--cluster-secret", SECRET, "--port", port];
const gatewayArgs = () => [
  "--upstream",
  nodeA.url,
  "--upstream",
  nodeB.url,
  "--cluster-secret",
  SECRET,
  "--database",
  db.database as string,
  "--admin-key",
  ADMIN,
  "--health-interval-ms",
  "250",
];
const client = (base: string, key = ADMIN) => new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
const adminGet = async (base: string, p: string): Promise<Json> =>
  (await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
const upstreamsOf = async (base: string): Promise<Json[]> => (await adminGet(base, "/v1/admin/upstreams")).data;

async function waitFor(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A chat completion over raw HTTP: streamed, its SSE events parsed. */
async function streamChat(base: string, body: object): Promise<{ events: string[]; res: Response }> {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ model: MODEL_ID, stream: true, ...body }),
  });
  return { res, events: parseSse(await res.text()) };
}

before(async () => {
  db = await freshDatabase("postgres");
  [nodeA, nodeB] = await Promise.all([spawnServer(nodeArgs()), spawnServer(nodeArgs())]);
  [gw1, gw2] = await Promise.all([spawnServer(gatewayArgs()), spawnServer(gatewayArgs())]);
  await waitFor("both nodes healthy at the gateways", async () => {
    const lists = await Promise.all([upstreamsOf(gw1.url), upstreamsOf(gw2.url)]);
    return lists.every((l) => l.length === 2 && l.every((u: Json) => u.healthy));
  });
});

after(async () => {
  await Promise.all([gw1, gw2, nodeA, nodeB].map((p) => p?.stop()));
});

describe("a gateway over two Lunaris nodes", () => {
  it("passes the chat API's own HTTP tests (run through a gateway over two nodes)", async () => {
    const files = ["chatCompletions", "tools", "logprobs", "validation", "clients", "frontends", "langchain"].map(
      (f) => `test/http/${f}.test.ts`,
    );
    // NODE_TEST_CONTEXT would make the child report to this runner instead of printing TAP.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const run = await execFileP(
      process.execPath,
      ["--import", "tsx", "--test", "--test-reporter=tap", "--test-concurrency=1", ...files],
      {
        env: { ...env, LUNARIS_TEST_GATEWAY: "1" },
        maxBuffer: 64 * 2 ** 20,
      },
    ).catch((e: { stdout?: string; code?: number }) => ({ stdout: e.stdout ?? "", failed: e.code }));
    const failures = run.stdout.split("\n").filter((l) => /^\s*not ok/.test(l));
    assert.deepEqual(failures, [], run.stdout.slice(-4000));
    assert.match(run.stdout, /# fail 0/);
    assert.match(run.stdout, /# pass [1-9]\d+/);
  });

  it("gives the same text for a seed through the gateway as from a node directly", async () => {
    const body = {
      model: MODEL_ID,
      messages: [{ role: "user" as const, content: "Name three colours." }],
      max_tokens: 24,
      seed: 4242,
      temperature: 1,
    };
    const viaGateway = await client(gw1.url).chat.completions.create(body);
    const text = viaGateway.choices[0]?.message.content ?? "";
    assert.ok(text.length > 0);
    // The same request straight to each node, over the engine protocol.
    const request = toGenerationRequest(
      chatCompletionRequestSchema.parse(body),
      MODEL_ID,
      new AbortController().signal,
      {},
    );
    for (const node of [nodeA, nodeB]) {
      const res = await fetch(`${node.url}${NODE_PATHS.generate}`, {
        method: "POST",
        headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
        body: encodeRequest(request),
      });
      assert.equal(res.status, 200);
      const events = (await res.text()).trim().split("\n").map(decodeEvent);
      const direct = events.map((e) => (e.type === "text" ? e.text : "")).join("");
      assert.equal(direct, text, `node ${node.url}`);
    }
  });

  it("routes each chat's next turn to the node holding it: 20 two-turn chats, every second turn cached", async () => {
    const before = await upstreamsOf(gw1.url);
    const chats = Array.from({ length: 20 }, (_, i) => [
      {
        role: "system" as const,
        content: `You are assistant number ${i}. Answer briefly, kindly and with care for detail.`,
      },
      { role: "user" as const, content: `Chat ${i}: tell me something about the number ${i * 7}.` },
    ]);
    const cached: number[] = [];
    const c = client(gw1.url);
    for (let k = 0; k < chats.length; k += 4) {
      await Promise.all(
        chats.slice(k, k + 4).map(async (messages) => {
          const first = await c.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 6 });
          const reply = first.choices[0]?.message.content ?? "";
          const second = await c.chat.completions.create({
            model: MODEL_ID,
            messages: [...messages, { role: "assistant", content: reply }, { role: "user", content: "And then?" }],
            max_tokens: 6,
          });
          cached.push(second.usage?.prompt_tokens_details?.cached_tokens ?? 0);
        }),
      );
    }
    assert.equal(cached.length, 20);
    assert.ok(
      cached.every((n) => n > 0),
      `cached tokens of the second turns: ${cached.join(",")}`,
    );
    const now = await upstreamsOf(gw1.url);
    const served = now.map((u, i) => u.requests - (before[i]?.requests ?? 0));
    assert.ok(
      served.every((n) => n >= 8),
      `both nodes serve chats: ${served.join(",")}`,
    );
    assert.ok(now.reduce((a, u) => a + u.prefix_hits, 0) >= 20, "second turns counted as prefix hits");
  });

  it("shows each upstream in /metrics, the admin endpoint and `lunaris upstreams`", async () => {
    const metrics = await (await fetch(`${gw1.url}/metrics`)).text();
    for (const node of [nodeA, nodeB]) {
      assert.match(
        metrics,
        new RegExp(`lunaris_upstream_requests_total\\{upstream="${node.url}",outcome="ok"\\} [1-9]`),
      );
      assert.match(metrics, new RegExp(`lunaris_upstream_healthy\\{upstream="${node.url}"\\} 1`));
      assert.match(metrics, new RegExp(`lunaris_upstream_first_event_seconds_count\\{upstream="${node.url}"\\} [1-9]`));
    }
    assert.match(metrics, /lunaris_upstream_prefix_hits_total\{upstream=/);
    const list = await upstreamsOf(gw1.url);
    assert.deepEqual(
      list.map((u) => [u.url, u.kind, u.healthy]).sort(),
      [nodeA.url, nodeB.url].sort().map((u) => [u, "lunaris", true]),
    );
    const forbidden = await fetch(`${gw1.url}/v1/admin/upstreams`);
    assert.equal(forbidden.status, 401);
    const table = await lunaris(["upstreams", "--url", gw1.url, "--admin-key", ADMIN]);
    assert.match(table, /URL\s+KIND\s+WEIGHT\s+HEALTH/);
    for (const node of [nodeA, nodeB]) assert.match(table, new RegExp(`${node.url}\\s+lunaris\\s+1\\s+up`));
  });

  it("keeps nodes closed to anyone without the cluster secret", async () => {
    const body = JSON.stringify({ text: "hello", special: false });
    for (const authorization of [undefined, "Bearer wrong-secret-wrong-secret", `Bearer ${ADMIN}`]) {
      const res = await fetch(`${nodeA.url}${NODE_PATHS.tokenize}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body,
      });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as Json).error.type, "authentication_error");
    }
    const ok = await fetch(`${nodeA.url}${NODE_PATHS.tokenize}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${SECRET}` },
      body,
    });
    assert.deepEqual(((await ok.json()) as Json).tokens.length > 0, true);
    // A node refuses to listen off loopback without a secret.
    const cfg = parseServeConfig({
      model: "demo",
      host: "0.0.0.0",
      port: 0,
      role: "engine",
      dataDir: os.tmpdir(),
      cacheDir: os.tmpdir(),
      logLevel: "silent",
    });
    await assert.rejects(startNode(cfg), /without a cluster secret/);
  });

  it("frees the node's sequence when the client disconnects at the gateway", async () => {
    const abort = new AbortController();
    const res = await fetch(`${gw1.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({
        model: MODEL_ID,
        stream: true,
        max_tokens: 900,
        messages: [{ role: "user", content: "Write a very long story." }],
      }),
      signal: abort.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const busy = async () => {
      const h = await Promise.all(
        [nodeA, nodeB].map(
          async (n) => ((await (await fetch(`${n.url}/health`)).json()) as Json).active_sequences as number,
        ),
      );
      return h.reduce((a, b) => a + b, 0);
    };
    assert.equal(await busy(), 1, "one sequence generating");
    abort.abort();
    await waitFor("the node to free its sequence", async () => (await busy()) === 0, 2_000);
  });
});

describe("one ledger, two gateways", () => {
  it("bills requests from either gateway into the shared PostgreSQL ledger, with keys made on one usable on the other", async () => {
    const created = await fetch(`${gw1.url}/v1/admin/keys`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ name: "shared" }),
    });
    const key: Json = await created.json();
    assert.equal(created.status, 201, JSON.stringify(key));
    for (const g of [gw1, gw2, gw2])
      await client(g.url, key.secret).chat.completions.create({
        model: MODEL_ID,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 3,
      });
    const usage = await adminGet(gw1.url, `/v1/admin/usage?key_id=${key.id}`);
    assert.equal(usage.totals.requests, 3);
    assert.equal(usage.totals.completion_tokens, 9);
  });

  it("holds a budget under concurrency across gateways: a request in flight holds what it may cost", async () => {
    // A hold is a full context of output (1,024 tokens x $0.06/M = $0.0000614): more than this budget.
    const created = await fetch(`${gw1.url}/v1/admin/keys`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ name: "budgeted", monthly_budget_usd: 0.00005 }),
    });
    const key: Json = await created.json();
    const statuses = await Promise.all(
      [gw1, gw2, gw1, gw2, gw1, gw2].map(async (g, i) => {
        const res = await fetch(`${g.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
          body: JSON.stringify({
            model: MODEL_ID,
            messages: [{ role: "user", content: `Spend ${i}` }],
            max_tokens: 200,
          }),
        });
        const body: Json = await res.json();
        return res.status === 429 ? body.error.code : res.status;
      }),
    );
    assert.deepEqual(statuses.filter((s) => s === 200).length, 1, statuses.join(","));
    assert.deepEqual(statuses.filter((s) => s === "insufficient_quota").length, 5);
    const usage = await adminGet(gw2.url, `/v1/admin/usage?key_id=${key.id}`);
    assert.equal(usage.totals.requests, 1);
  });
});

/** A seeded, sampled request: the same text every time from the same engine. */
const SAY_SOMETHING = {
  model: MODEL_ID,
  messages: [{ role: "user" as const, content: "Say something." }],
  max_tokens: 12,
  seed: 7,
  temperature: 1,
};

describe("engines we did not write", () => {
  let llama: LlamaServerProcess;
  let gwLlama: ServerProcess;
  let gwOpenAi: ServerProcess;

  before(async () => {
    llama = await spawnLlamaServer(2, 2048);
    const file = path.join(os.tmpdir(), `lunaris-upstreams-${process.pid}.json`);
    writeFileSync(
      file,
      JSON.stringify([
        { kind: "openai", url: `${llama.url}/v1` },
        { kind: "openai", url: `${gw1.url}/v1`, apiKey: ADMIN },
      ]),
    );
    [gwLlama, gwOpenAi] = await Promise.all([
      spawnServer(["--upstream", `llama-server=${llama.url}`, "--admin-key", ADMIN, "--health-interval-ms", "250"]),
      spawnServer([
        "--upstreams-file",
        file,
        "--routing",
        "round-robin",
        "--admin-key",
        ADMIN,
        "--health-interval-ms",
        "250",
      ]),
    ]);
    await waitFor(
      "llama-server healthy at the gateways",
      async () =>
        (await upstreamsOf(gwLlama.url)).every((u) => u.healthy) &&
        (await upstreamsOf(gwOpenAi.url)).every((u) => u.healthy),
    );
  });

  after(async () => {
    await Promise.all([gwLlama?.stop(), gwOpenAi?.stop(), llama?.stop()]);
  });

  it("llama-server: answers in our API's shape, streamed and not, with usage and a reproducible seed", async () => {
    const c = client(gwLlama.url);
    const body = SAY_SOMETHING;
    const a = await c.chat.completions.create(body);
    const b = await c.chat.completions.create(body);
    assert.equal(a.choices[0]?.finish_reason, "length");
    assert.equal(a.usage?.completion_tokens, 12);
    assert.ok((a.usage?.prompt_tokens ?? 0) > 5);
    assert.equal(a.choices[0]?.message.content, b.choices[0]?.message.content, "same seed, same text");
    const { events } = await streamChat(gwLlama.url, { ...body, stream_options: { include_usage: true } });
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Json);
    assert.equal(chunks[0].choices[0].delta.role, "assistant");
    assert.equal(chunks.map((ch) => ch.choices[0]?.delta?.content ?? "").join(""), a.choices[0]?.message.content);
    assert.equal(chunks.at(-1).usage.completion_tokens, 12);
  });

  it("llama-server: cuts stops on our side, enforces JSON schemas and tool calls, returns logprobs", async () => {
    const c = client(gwLlama.url);
    const ask = SAY_SOMETHING;
    const free = await c.chat.completions.create(ask);
    const text = free.choices[0]?.message.content ?? "";
    const stop = text.slice(6, 9);
    const cut = await c.chat.completions.create({ ...ask, stop: [stop] });
    assert.equal(cut.choices[0]?.message.content, text.slice(0, text.indexOf(stop)));
    assert.equal(cut.choices[0]?.finish_reason, "stop");

    const schema = {
      type: "object",
      properties: { name: { type: "string", maxLength: 8 }, age: { type: "integer", minimum: 0, maximum: 120 } },
      required: ["name", "age"],
    };
    const json = await c.chat.completions.create({
      model: MODEL_ID,
      messages: [{ role: "user", content: "A person." }],
      max_tokens: 60,
      response_format: { type: "json_schema", json_schema: { name: "p", schema } },
    });
    const parsed = JSON.parse(json.choices[0]?.message.content ?? "") as Json;
    assert.equal(typeof parsed.name, "string");
    assert.ok(Number.isInteger(parsed.age) && parsed.age >= 0 && parsed.age <= 120);

    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { city: { type: "string", maxLength: 10 } }, required: ["city"] },
        },
      },
    ];
    const called = await c.chat.completions.create({
      model: MODEL_ID,
      messages: [{ role: "user", content: "Weather?" }],
      tools,
      tool_choice: "required",
      max_tokens: 60,
    });
    const call = called.choices[0]?.message.tool_calls?.[0];
    assert.equal(called.choices[0]?.finish_reason, "tool_calls");
    assert.ok(call && call.type === "function");
    assert.equal(call.function.name, "get_weather");
    assert.equal(typeof (JSON.parse(call.function.arguments) as Json).city, "string");

    const lp = await c.chat.completions.create({
      model: MODEL_ID,
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 4,
      logprobs: true,
      top_logprobs: 3,
    });
    const content = lp.choices[0]?.logprobs?.content ?? [];
    assert.equal(content.length, 4);
    assert.ok(content.every((t) => t.logprob <= 0 && t.top_logprobs.length === 3));
  });

  it("llama-server: reuses its prompt cache on a chat's next turn; DRY and XTC reach it; auto tools are refused by name", async () => {
    const c = client(gwLlama.url);
    const messages = [
      { role: "system" as const, content: "You are a storyteller with a long memory of every tale." },
      { role: "user" as const, content: "Begin a tale." },
    ];
    const first = await c.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 6 });
    const second = await c.chat.completions.create({
      model: MODEL_ID,
      messages: [
        ...messages,
        { role: "assistant", content: first.choices[0]?.message.content ?? "" },
        { role: "user", content: "More." },
      ],
      max_tokens: 6,
    });
    assert.ok((second.usage?.prompt_tokens_details?.cached_tokens ?? 0) > 10, JSON.stringify(second.usage));

    const res = await fetch(`${gwLlama.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({
        model: MODEL_ID,
        messages,
        max_tokens: 8,
        dry_multiplier: 0.8,
        xtc_probability: 0.5,
        xtc_threshold: 0.1,
        min_p: 0.05,
        top_k: 40,
      }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-lunaris-ignored-params"), null);

    const auto = await fetch(`${gwLlama.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({
        model: MODEL_ID,
        messages,
        max_tokens: 8,
        tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      }),
    });
    assert.equal(auto.status, 400);
    const err = ((await auto.json()) as Json).error;
    assert.equal(err.code, "unsupported_parameter");
    assert.equal(err.param, "tool_choice");
  });

  it("OpenAI-compatible upstreams (llama-server's /v1 and a Lunaris gateway): forwarded, usage billed at our prices, extensions named as ignored", async () => {
    const bodies = Array.from({ length: 4 }, (_, i) => ({
      model: MODEL_ID,
      messages: [{ role: "user", content: `Question ${i}` }],
      max_tokens: 5,
    }));
    const before = await adminGet(gwOpenAi.url, "/v1/usage");
    for (const b of bodies) {
      const r = await client(gwOpenAi.url).chat.completions.create(
        b as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
      );
      assert.equal(r.usage?.completion_tokens, 5);
      assert.ok((r.usage?.prompt_tokens ?? 0) > 0);
      assert.ok(r.usage && "estimated_cost" in r.usage);
    }
    const ups = await upstreamsOf(gwOpenAi.url);
    assert.deepEqual(
      ups.map((u) => u.requests),
      [2, 2],
      "round robin over both",
    );
    const after = await adminGet(gwOpenAi.url, "/v1/usage");
    assert.equal((after.totals.requests as number) - ((before.totals?.requests as number) ?? 0), 4);
    assert.equal((after.totals.completion_tokens as number) - ((before.totals?.completion_tokens as number) ?? 0), 20);

    const { res, events } = await streamChat(gwOpenAi.url, {
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 4,
      dry_multiplier: 0.8,
      stream_options: { include_usage: true },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("x-lunaris-ignored-params") ?? "", /dry_multiplier/);
    assert.equal(events.at(-1), "[DONE]");
    assert.equal((JSON.parse(events.at(-2) as string) as Json).usage.completion_tokens, 4);
  });
});

describe("a node killed mid-stream", () => {
  it("ends its streams with an error event, serves new requests on the other node, bills one row per request; the node rejoins after a restart", async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => ({
      max_tokens: 900,
      messages: [{ role: "user", content: `Long story number ${i}, please.` }],
    }));
    const streams = bodies.map(async (b) => {
      const res = await fetch(`${gw1.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
        body: JSON.stringify({ model: MODEL_ID, stream: true, ...b }),
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      let text = new TextDecoder().decode(first.value);
      return {
        started: true,
        rest: (async () => {
          for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
          return parseSse(text);
        })(),
      };
    });
    const opened = await Promise.all(streams);
    assert.equal(opened.length, 8);
    const portA = new URL(nodeA.url).port;
    nodeA.child.kill("SIGKILL");
    // Not yet started: every one is served (by node B; the gateway has not run a health check yet).
    const fresh = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client(gw1.url).chat.completions.create({
          model: MODEL_ID,
          messages: [{ role: "user", content: `After the kill ${i}` }],
          max_tokens: 4,
        }),
      ),
    );
    assert.ok(fresh.every((r) => r.choices[0]?.finish_reason === "length"));
    const ended = await Promise.all(opened.map((s) => s.rest));
    const ids = new Set<string>(fresh.map((r) => r.id));
    let broken = 0;
    const delivered = new Map<string, number>();
    for (const events of ended) {
      assert.equal(events.at(-1), "[DONE]");
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Json);
      const id = chunks.find((ch) => ch.id)?.id as string;
      ids.add(id);
      const last = chunks.at(-1);
      if (last.error) {
        broken++;
        assert.equal(last.error.code, "upstream_failed");
        delivered.set(id, chunks.filter((ch) => ch.choices?.[0]?.delta?.content).length);
      } else assert.ok(["length", "stop"].includes(last.choices[0].finish_reason), "completed on the other node");
    }
    assert.ok(broken >= 1 && broken < 8, `streams cut by the kill: ${broken}`);
    // The ledger: exactly one row per request; a cut stream billed for what it delivered.
    const pool = new pg.Client({ connectionString: db.database });
    await pool.connect();
    try {
      await waitFor("every ledger row", async () => {
        const { rows } = await pool.query("SELECT count(*)::int AS n FROM usage_records WHERE request_id = ANY($1)", [
          [...ids],
        ]);
        return rows[0].n >= ids.size;
      });
      const { rows } = await pool.query(
        "SELECT request_id, count(*)::int AS n, max(completion_tokens)::int AS tokens, max(status)::int AS status FROM usage_records WHERE request_id = ANY($1) GROUP BY request_id",
        [[...ids]],
      );
      assert.equal(rows.length, ids.size);
      for (const r of rows) {
        assert.equal(r.n, 1, `one row for ${r.request_id}`);
        const got = delivered.get(r.request_id);
        if (got !== undefined) {
          assert.equal(r.status, 502);
          assert.ok(r.tokens >= got && (got === 0 || r.tokens > 0), `billed ${r.tokens} for ${got} delivered chunks`);
        }
      }
    } finally {
      await pool.end();
    }
    // The gateway ejects the dead node, and takes it back once it serves again on its address.
    await waitFor("node A ejected", async () =>
      (await upstreamsOf(gw1.url)).some((u) => u.url === nodeA.url && !u.healthy),
    );
    nodeA = await spawnServer(nodeArgs(portA));
    await waitFor("node A rejoined", async () => (await upstreamsOf(gw1.url)).every((u) => u.healthy));
    const beforeA = (await upstreamsOf(gw1.url)).find((u) => u.url === nodeA.url).requests as number;
    await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        client(gw1.url).chat.completions.create({
          model: MODEL_ID,
          messages: [{ role: "user", content: `Back again ${i}` }],
          max_tokens: 3,
        }),
      ),
    );
    const afterA = (await upstreamsOf(gw1.url)).find((u) => u.url === nodeA.url).requests as number;
    assert.ok(afterA > beforeA, "the restarted node serves again");
  });
});
