import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Hono } from "hono";
import { cors } from "../../src/api/middleware/cors.js";

function app(origins: string[]): { app: Hono; sent: () => Response | null } {
  let sent: Response | null = null;
  const a = new Hono();
  a.use(
    "*",
    cors({
      origins,
      allowHeaders: ["Authorization"],
      allowMethods: ["GET", "POST"],
      exposeHeaders: ["x-request-id"],
      maxAge: 600,
    }),
  );
  a.post("/x", (c) => {
    sent = c.json({ ok: true });
    return sent;
  });
  return { app: a, sent: () => sent };
}

describe("cors middleware", () => {
  it("allows any origin with *, and hands the route's response on unchanged", async () => {
    const { app: a, sent } = app(["*"]);
    const res = await a.request("/x", { method: "POST", headers: { origin: "https://a.example" } });
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("access-control-expose-headers"), "x-request-id");
    // The same object: hono did not rebuild it around a stream body (the slow path this middleware avoids).
    assert.equal(res, sent());
    assert.deepEqual(await res.json(), { ok: true });
  });

  it("echoes a listed origin, varies on Origin, and leaves others without access", async () => {
    const { app: a } = app(["https://a.example"]);
    const ok = await a.request("/x", { method: "POST", headers: { origin: "https://a.example" } });
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://a.example");
    assert.match(ok.headers.get("vary") ?? "", /origin/i);
    const other = await a.request("/x", { method: "POST", headers: { origin: "https://b.example" } });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
  });

  it("answers preflights with the allowed methods, headers and max age", async () => {
    const { app: a } = app(["https://a.example"]);
    const pre = await a.request("/x", {
      method: "OPTIONS",
      headers: { origin: "https://a.example", "access-control-request-method": "POST" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "https://a.example");
    assert.equal(pre.headers.get("access-control-allow-methods"), "GET,POST");
    assert.equal(pre.headers.get("access-control-allow-headers"), "Authorization");
    assert.equal(pre.headers.get("access-control-max-age"), "600");
  });
});
