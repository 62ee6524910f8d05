import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { readSse } from "../../src/client/readSse.js";
import { startServer } from "../../src/server.js";
import { MODEL_ID, readJson, startTestServer, testServeConfig } from "../helpers/testServer.js";

describe("server lifecycle", () => {
  it("answers 503 while the model loads, then serves", async () => {
    const cfg = testServeConfig({ ctxSize: 512 });
    const running = await startServer(cfg, pino({ level: "silent" }));
    try {
      // The HTTP server listens before the model is loaded.
      const health = await fetch(`${running.url}/health`);
      assert.equal(health.status, 503);
      assert.equal((await readJson(health)).status, "loading");
      const early = await fetch(`${running.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Hi" }] }),
      });
      assert.equal(early.status, 503);
      assert.equal((await readJson(early)).error.code, "model_loading");
      assert.ok(Number(early.headers.get("retry-after")) > 0);
      await running.ready;
      assert.equal((await fetch(`${running.url}/health`)).status, 200);
    } finally {
      await running.close();
    }
  });

  it("refuses to serve a non-loopback address without keys unless told to", async () => {
    const cfg = testServeConfig({ host: "0.0.0.0" });
    await assert.rejects(
      startServer(cfg, pino({ level: "silent" })),
      /Refusing to serve on 0\.0\.0\.0 without API keys/,
    );
  });

  it("stops a request that outlives --request-timeout-ms and frees its sequence", async () => {
    const cfg = testServeConfig({ ctxSize: 4096, parallel: 1, requestTimeoutMs: 300 });
    const running = await startServer(cfg, pino({ level: "silent" }));
    try {
      await running.ready;
      const res = await fetch(`${running.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: MODEL_ID,
          messages: [{ role: "user", content: "Hi" }],
          max_tokens: 3000,
          ignore_eos: true,
        }),
      });
      // The server's limit, so a 5xx: a 408 would tell OpenAI clients their own timeout fired.
      assert.equal(res.status, 504);
      const body = await readJson(res);
      assert.equal(body.error.code, "request_timeout");
      assert.equal(body.error.type, "server_error");
      const health = await readJson(await fetch(`${running.url}/health`));
      assert.equal(health.active_sequences, 0);
    } finally {
      await running.close();
    }
  });

  it("keeps a quiet stream alive with SSE comments, which clients skip", async () => {
    // A 1 ms keep-alive stands in for 15 s against a minutes-long 8B prefill: the tiny model's
    // prefill of a long prompt is quiet for longer than that.
    const server = await startTestServer({ ctxSize: 4096, parallel: 1, sseKeepAliveMs: 1 });
    try {
      const body = {
        model: MODEL_ID,
        messages: [{ role: "user" as const, content: "word ".repeat(3000) }],
        max_tokens: 8,
        stream: true as const,
      };
      const res = await server.post("/v1/chat/completions", body);
      assert.equal(res.status, 200);
      const raw = await res.text();
      assert.match(raw, /^: keep-alive\n\n/m, "no keep-alive comment in the stream");
      assert.ok(raw.endsWith("data: [DONE]\n\n"));
      const events: { choices: { delta: { content?: string }; finish_reason: string | null }[] }[] = [];
      async function* once(): AsyncGenerator<Uint8Array> {
        yield new TextEncoder().encode(raw);
      }
      for await (const e of readSse<(typeof events)[number]>(once())) events.push(e);
      assert.equal(events.at(-1)?.choices[0]?.finish_reason, "length");
      // The official client reads the same stream to the end.
      let text = "";
      const stream = await server.client.chat.completions.create(body);
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      assert.ok(text.length > 0);
      assert.equal((await readJson(await fetch(`${server.url}/health`))).active_sequences, 0);
    } finally {
      await server.close();
    }
  });
});
