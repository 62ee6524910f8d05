import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import OpenAI from "openai";
import { openStore } from "../../src/accounting/store/openStore.js";
import { lunaris, spawnServer } from "../helpers/cliServer.js";
import { type TestDatabase, freshDatabase } from "../helpers/databases.js";
import { MODEL_ID, type TestServer, readJson, startTestServer } from "../helpers/testServer.js";

const ADMIN = "sk-admin-test";
const WINDOW_MS = 3000;
const hi = [{ role: "user" as const, content: "Hi" }];

/** Keys, ledger and limits through the real server; the same suite runs on SQLite and PostgreSQL. */
export function tenantSuite(kind: "sqlite" | "postgres"): void {
  let db: TestDatabase;
  let srv: TestServer;
  const storeArgs = () => [...(db.database ? ["--database", db.database] : []), "--data-dir", db.dataDir];
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${srv.url}/v1/admin${path}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...init.headers },
    });
  const createKey = async (body: Record<string, unknown>): Promise<{ id: string; secret: string }> => {
    const res = await admin("/keys", { method: "POST", body: JSON.stringify(body) });
    assert.equal(res.status, 201);
    return readJson(res);
  };
  const chat = (secret: string, body: Record<string, unknown> = {}) =>
    srv.post(
      "/v1/openai/chat/completions",
      { model: MODEL_ID, messages: hi, max_tokens: 4, ...body },
      { authorization: `Bearer ${secret}` },
    );
  // The server's rate windows run on this clock: a test moves it to the next window instead of
  // waiting one out (the limiter's clock is injectable for exactly this).
  let offset = 0;
  const now = () => Date.now() + offset;
  /** Moves the server's clock to the start of the next rate window, so a test gets a whole window. */
  const nextWindow = async () => {
    offset += WINDOW_MS - (now() % WINDOW_MS) + 1;
  };
  /** Waits for the next window on the wall clock: for server processes spawned apart from this one. */
  const nextRealWindow = () => sleep(WINDOW_MS - (Date.now() % WINDOW_MS) + 50);

  before(async () => {
    db = await freshDatabase(kind);
    srv = await startTestServer(
      { database: db.database, dataDir: db.dataDir, adminKeys: [ADMIN], rateWindowMs: WINDOW_MS },
      undefined,
      { now },
    );
  });
  after(async () => {
    await srv?.close();
  });

  describe(`tenants on ${kind}`, () => {
    it("manages a key's lifecycle from the CLI: create, list, update, revoke", async () => {
      const created = JSON.parse(
        await lunaris(["keys", "create", "--name", "cli-key", "--rpm", "100", "--json", ...storeArgs()]),
      );
      assert.match(created.secret, /^lun-/);
      const listed = JSON.parse(await lunaris(["keys", "list", "--json", ...storeArgs()])) as {
        id: string;
        prefix: string;
        rpm: number;
      }[];
      const mine = listed.find((k) => k.id === created.id);
      assert.equal(mine?.rpm, 100);
      assert.ok(created.secret.startsWith(mine?.prefix ?? "?"));
      assert.ok(!JSON.stringify(listed).includes(created.secret), "the secret is never stored or listed");
      await lunaris(["keys", "update", created.id, "--tpm", "5000", "--unlimited", "rpm", ...storeArgs()]);
      const key = await readJson(await admin(`/keys/${created.id}`));
      assert.deepEqual(key.limits, { rpm: null, tpm: 5000, max_concurrent: null, monthly_budget_usd: null });
      assert.equal((await chat(created.secret)).status, 200);
      await lunaris(["keys", "revoke", created.id, ...storeArgs()]);
      const res = await chat(created.secret);
      assert.equal(res.status, 401);
      assert.equal((await readJson(res)).error.code, "invalid_api_key");
    });

    it("runs open only until the first stored key exists; revoking the last key then refuses everyone", async () => {
      // A server of its own with no configured keys: open mode is decided at start.
      const own = await freshDatabase(kind);
      const args = [...(own.database ? ["--database", own.database] : []), "--data-dir", own.dataDir];
      const bare = await startTestServer({ database: own.database, dataDir: own.dataDir });
      try {
        const ask = (headers: Record<string, string> = {}) =>
          bare.post("/v1/chat/completions", { model: MODEL_ID, messages: hi, max_tokens: 1 }, headers);
        assert.equal((await ask()).status, 200, "no key anywhere: auth is off (loopback only)");
        const created = JSON.parse(await lunaris(["keys", "create", "--name", "first", "--json", ...args]));
        const refused = await ask();
        assert.equal(refused.status, 401);
        assert.equal((await readJson(refused)).error.code, "invalid_api_key");
        assert.equal((await ask({ authorization: `Bearer ${created.secret}` })).status, 200);
        await lunaris(["keys", "revoke", created.id, ...args]);
        assert.equal((await ask()).status, 401, "every key revoked: still closed, never open again at run time");
        assert.equal((await ask({ authorization: `Bearer ${created.secret}` })).status, 401);
        const next = JSON.parse(await lunaris(["keys", "create", "--name", "second", "--json", ...args]));
        assert.equal(
          (await ask({ authorization: `Bearer ${next.secret}` })).status,
          200,
          "a key created from the CLI lets its holder in",
        );
      } finally {
        await bare.close();
      }
    });

    it("rotates the only admin key on 0.0.0.0, and revoking the last one opens nothing", async () => {
      const own = await freshDatabase(kind);
      const store = await openStore(own.database, own.dataDir);
      const { Accounting } = await import("../../src/accounting/Accounting.js");
      const seeded = await new Accounting(store).createKey({ name: "operator", isAdmin: true });
      await store.close();
      const wide = await startTestServer({ database: own.database, dataDir: own.dataDir, host: "0.0.0.0" });
      try {
        const url = wide.url.replace("0.0.0.0", "127.0.0.1");
        const call = (path: string, secret: string | null, init: RequestInit = {}) =>
          fetch(`${url}${path}`, {
            ...init,
            headers: { "content-type": "application/json", ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
          });
        assert.equal(
          (await call("/v1/admin/keys", null)).status,
          401,
          "anonymous callers are refused on a network bind",
        );
        // Rotation: the old admin key creates its successor, which revokes the old one.
        const made = await call("/v1/admin/keys", seeded.secret, {
          method: "POST",
          body: JSON.stringify({ name: "rotated", admin: true }),
        });
        assert.equal(made.status, 201);
        const successor = (await readJson(made)) as { id: string; secret: string };
        assert.equal(
          (await call(`/v1/admin/keys/${seeded.key.id}`, successor.secret, { method: "DELETE" })).status,
          200,
        );
        assert.equal((await call("/v1/admin/keys", seeded.secret)).status, 401, "the old key is refused");
        assert.equal((await call("/v1/admin/keys", successor.secret)).status, 200, "the new key works");
        // Revoking the last key: everyone is refused, nobody becomes admin.
        assert.equal(
          (await call(`/v1/admin/keys/${successor.id}`, successor.secret, { method: "DELETE" })).status,
          200,
        );
        for (const secret of [null, "", "anything", successor.secret, seeded.secret]) {
          assert.equal((await call("/v1/admin/keys", secret)).status, 401, `GET as ${JSON.stringify(secret)}`);
          const post = await call("/v1/admin/keys", secret, {
            method: "POST",
            body: JSON.stringify({ name: "x", admin: true }),
          });
          assert.equal(post.status, 401, `POST as ${JSON.stringify(secret)}`);
        }
        assert.equal(
          (
            await call("/v1/chat/completions", null, {
              method: "POST",
              body: JSON.stringify({ model: MODEL_ID, messages: hi }),
            })
          ).status,
          401,
        );
      } finally {
        await wide.close();
      }
    });

    it("manages keys over HTTP with an admin key, and refuses non-admins", async () => {
      const k = await createKey({ name: "http-key", rpm: 10, monthly_budget_usd: 5 });
      const list = await readJson(await admin("/keys"));
      assert.ok(list.data.some((x: { id: string }) => x.id === k.id));
      const patched = await readJson(
        await admin(`/keys/${k.id}`, { method: "PATCH", body: JSON.stringify({ rpm: 20, name: "renamed" }) }),
      );
      assert.equal(patched.limits.rpm, 20);
      assert.equal(patched.name, "renamed");
      const asUser = await fetch(`${srv.url}/v1/admin/keys`, { headers: { authorization: `Bearer ${k.secret}` } });
      assert.equal(asUser.status, 403);
      assert.equal((await readJson(asUser)).error.type, "permission_error");
      const revoked = await readJson(await admin(`/keys/${k.id}`, { method: "DELETE" }));
      assert.notEqual(revoked.revoked_at, null);
      assert.equal((await chat(k.secret)).status, 401);
      assert.equal((await admin("/keys/key_nope")).status, 404);
    });

    it("trips requests-per-minute at the right count, with headers, and recovers next window", async () => {
      const k = await createKey({ name: "rpm", rpm: 2 });
      await nextWindow();
      const r1 = await chat(k.secret);
      assert.equal(r1.status, 200);
      assert.equal(r1.headers.get("x-ratelimit-limit-requests"), "2");
      assert.equal(r1.headers.get("x-ratelimit-remaining-requests"), "1");
      assert.match(r1.headers.get("x-ratelimit-reset-requests") ?? "", /^\d+s$/);
      assert.equal((await chat(k.secret)).status, 200);
      const r3 = await chat(k.secret);
      assert.equal(r3.status, 429);
      assert.ok(Number(r3.headers.get("retry-after")) >= 1);
      assert.equal(r3.headers.get("x-ratelimit-remaining-requests"), "0");
      const body = await readJson(r3);
      assert.equal(body.error.code, "rate_limit_exceeded");
      assert.equal(body.error.type, "requests");
      await nextWindow();
      assert.equal((await chat(k.secret)).status, 200);
    });

    it("trips tokens-per-minute once the window's tokens are used, and recovers", async () => {
      const k = await createKey({ name: "tpm", tpm: 20 });
      await nextWindow();
      const r1 = await chat(k.secret, { max_tokens: 4 }); // 11 prompt + ≤4 completion tokens
      assert.equal(r1.status, 200);
      assert.equal(r1.headers.get("x-ratelimit-limit-tokens"), "20");
      assert.equal(r1.headers.get("x-ratelimit-remaining-tokens"), "20");
      const r2 = await chat(k.secret, { max_tokens: 4 });
      assert.equal(r2.status, 200);
      assert.ok(Number(r2.headers.get("x-ratelimit-remaining-tokens")) < 20);
      const r3 = await chat(k.secret);
      assert.equal(r3.status, 429);
      assert.equal((await readJson(r3)).error.type, "tokens");
      await nextWindow();
      assert.equal((await chat(k.secret)).status, 200);
    });

    it("limits concurrent requests and frees the slot when a stream ends", async () => {
      const k = await createKey({ name: "conc", max_concurrent: 1 });
      const client = new OpenAI({ baseURL: srv.base, apiKey: k.secret, maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: MODEL_ID,
        messages: hi,
        max_tokens: 200,
        stream: true,
      });
      const r = await chat(k.secret);
      assert.equal(r.status, 429);
      assert.match((await readJson(r)).error.message, /concurrent/);
      for await (const _ of stream) {
        // drain
      }
      await sleep(50);
      assert.equal((await chat(k.secret)).status, 200);
    });

    it("counts a request against RPM only when it is admitted", async () => {
      const k = await createKey({ name: "rpm-admitted", rpm: 4, max_concurrent: 1 });
      const client = new OpenAI({ baseURL: srv.base, apiKey: k.secret, maxRetries: 0 });
      await nextWindow();
      // Everything below fits in one 3-second window: a short stream holds the key's one slot.
      const stream = await client.chat.completions.create({
        model: MODEL_ID,
        messages: hi,
        max_tokens: 40,
        stream: true,
      });
      const refused = await Promise.all(Array.from({ length: 6 }, () => chat(k.secret, { max_tokens: 1 })));
      assert.deepEqual(
        refused.map((r) => r.status),
        Array(6).fill(429),
      );
      for (const r of refused) assert.match((await readJson(r)).error.message, /concurrent/);
      for await (const _ of stream) {
        // drain: frees the one slot
      }
      await sleep(50);
      // The stream was request 1 of 4; the six refused ones did not count.
      for (let i = 2; i <= 4; i++) assert.equal((await chat(k.secret, { max_tokens: 1 })).status, 200, `request ${i}`);
      const over = await chat(k.secret, { max_tokens: 1 });
      assert.equal(over.status, 429);
      assert.equal((await readJson(over)).error.type, "requests");
    });

    it("frees a killed server's concurrency leases: a restart or another replica does not lock the key out", async () => {
      const k = await createKey({ name: "leases", max_concurrent: 1 });
      const holder = await spawnServer(storeArgs());
      const ask = (url: string, body: Record<string, unknown> = {}) =>
        fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${k.secret}`, "content-type": "application/json" },
          body: JSON.stringify({ model: MODEL_ID, messages: hi, max_tokens: 2, ...body }),
        });
      const other = kind === "postgres" ? await spawnServer(storeArgs()) : null;
      try {
        const long = await ask(holder.url, { max_tokens: 900, stream: true });
        assert.equal(long.status, 200);
        if (other) assert.equal((await ask(other.url)).status, 429, "the live lease holds on the other replica");
        holder.child.kill("SIGKILL");
        await long.text().catch(() => "");
        if (!other) {
          // SQLite is one server's file: the restarted server frees what its predecessor held.
          const restarted = await spawnServer(storeArgs());
          try {
            assert.equal((await ask(restarted.url)).status, 200);
          } finally {
            await restarted.stop();
          }
          return;
        }
        // PostgreSQL: the dead replica stops heart-beating, and its leases are freed within seconds.
        const started = Date.now();
        let status = 0;
        while (Date.now() - started < 20_000 && status !== 200) {
          status = (await ask(other.url)).status;
          if (status !== 200) await sleep(500);
        }
        assert.equal(status, 200, "the key got in again");
        assert.ok(Date.now() - started < 15_000, `freed after ${Date.now() - started} ms`);
      } finally {
        await holder.stop();
        await other?.stop();
      }
    });

    it("stops a key at its monthly budget with insufficient_quota", async () => {
      const k = await createKey({ name: "budget", monthly_budget_usd: 0.000001 }); // one micro-dollar
      // ~110 prompt tokens × $0.03 per M = $0.0000033, over the budget.
      assert.equal((await chat(k.secret, { messages: [{ role: "user", content: "Hi ".repeat(100) }] })).status, 200);
      const r = await chat(k.secret);
      assert.equal(r.status, 429);
      const body = await readJson(r);
      assert.equal(body.error.code, "insufficient_quota");
      assert.equal(body.error.type, "insufficient_quota");
      assert.ok(Number(r.headers.get("retry-after")) > 0);
    });

    it("keeps usage totals equal to the sum of the responses' usage, and stores the user field", async () => {
      const k = await createKey({ name: "ledger" });
      const client = new OpenAI({ baseURL: srv.base, apiKey: k.secret, maxRetries: 0 });
      const sums = { prompt: 0, completion: 0, cost: 0n };
      for (let i = 0; i < 5; i++) {
        const r = await client.chat.completions.create({
          model: MODEL_ID,
          messages: hi,
          max_tokens: 3 + i,
          n: 1 + (i % 2),
          user: "alice",
        });
        sums.prompt += r.usage?.prompt_tokens ?? 0;
        sums.completion += r.usage?.completion_tokens ?? 0;
        sums.cost += BigInt(Math.round((r.usage as unknown as { estimated_cost: number }).estimated_cost * 1e12));
      }
      const stream = await client.chat.completions.create({
        model: MODEL_ID,
        messages: hi,
        max_tokens: 5,
        stream: true,
        user: "alice",
      });
      for await (const chunk of stream) {
        if (chunk.usage) {
          sums.prompt += chunk.usage.prompt_tokens;
          sums.completion += chunk.usage.completion_tokens;
          sums.cost += BigInt(Math.round((chunk.usage as unknown as { estimated_cost: number }).estimated_cost * 1e12));
        }
      }
      const usage = await readJson(
        await fetch(`${srv.url}/v1/usage`, { headers: { authorization: `Bearer ${k.secret}` } }),
      );
      assert.equal(usage.totals.requests, 6);
      assert.equal(usage.totals.prompt_tokens, sums.prompt);
      assert.equal(usage.totals.completion_tokens, sums.completion);
      assert.equal(BigInt(Math.round(usage.totals.cost_usd * 1e12)), sums.cost);
      assert.equal(usage.data[0].date, new Date().toISOString().slice(0, 10));
      const all = await readJson(await admin(`/usage?key_id=${k.id}&since=${usage.data[0].date}`));
      assert.equal(all.totals.requests, 6);
      const store = await openStore(db.database, db.dataDir);
      try {
        const rows = await store.usageRows({ keyId: k.id });
        assert.equal(rows.length, 6);
        assert.ok(rows.every((r) => r.user === "alice" && r.status === 200));
      } finally {
        await store.close();
      }
    });

    it(
      "lets two server processes on one database share a key's concurrency and RPM limits",
      { skip: kind === "sqlite" && "SQLite is one process's file; replicas share PostgreSQL" },
      async () => {
        const k = await createKey({ name: "shared", max_concurrent: 1, rpm: 3 });
        const [a, b] = await Promise.all([spawnServer(storeArgs()), spawnServer(storeArgs())]);
        try {
          const ask = (s: { url: string }, body: Record<string, unknown> = {}) =>
            fetch(`${s.url}/v1/chat/completions`, {
              method: "POST",
              headers: { authorization: `Bearer ${k.secret}`, "content-type": "application/json" },
              body: JSON.stringify({ model: MODEL_ID, messages: hi, max_tokens: 2, ...body }),
            });
          await nextRealWindow();
          const long = await ask(a, { max_tokens: 400, stream: true }); // holds the key's one slot on A
          assert.equal(long.status, 200);
          const onB = await ask(b);
          assert.equal(onB.status, 429);
          assert.match((await readJson(onB)).error.message, /concurrent/);
          await long.body?.cancel();
          await sleep(200);
          // RPM 3 across both: A's stream was #1 (B's refused request did not count); two more pass, then 429 on either.
          assert.equal((await ask(a)).status, 200);
          assert.equal((await ask(b)).status, 200);
          const over = await ask(a);
          assert.equal(over.status, 429);
          assert.equal((await readJson(over)).error.type, "requests");
        } finally {
          await Promise.all([a.stop(), b.stop()]);
        }
      },
    );

    it("has a ledger row for every response a client fully received, even after SIGKILL", async () => {
      const k = await createKey({ name: "crash" });
      const s = await spawnServer(storeArgs());
      const received: string[] = [];
      let stop = false;
      const worker = async () => {
        while (!stop) {
          try {
            const res = await fetch(`${s.url}/v1/chat/completions`, {
              method: "POST",
              headers: { authorization: `Bearer ${k.secret}`, "content-type": "application/json" },
              body: JSON.stringify({ model: MODEL_ID, messages: hi, max_tokens: 6, stream: true }),
            });
            const text = await res.text();
            const final = text.split("\n\n").find((e) => e.includes('"finish_reason":"') && e.includes('"usage"'));
            if (final) received.push(JSON.parse(final.slice(6)).id);
          } catch {
            // the server died mid-response: that response was not fully received
          }
        }
      };
      const workers = [worker(), worker(), worker(), worker()];
      while (received.length < 12) await sleep(20);
      s.child.kill("SIGKILL");
      stop = true;
      await Promise.all(workers);
      const store = await openStore(db.database, db.dataDir);
      try {
        const ids = new Set((await store.usageRows({ keyId: k.id })).map((r) => r.requestId));
        const missing = received.filter((id) => !ids.has(id));
        assert.deepEqual(missing, [], `${missing.length} of ${received.length} delivered responses have no ledger row`);
      } finally {
        await store.close();
      }
    });
  });
}
