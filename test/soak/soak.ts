/**
 * npm run soak: the hostile-client campaign at full size, against `lunaris serve` processes on
 * the tiny model (not in CI: ~10-15 minutes on 2 cores). Prints one table and writes it to
 * bench/results/soak.md.
 *
 *   npm run soak -- [--bodies 10000] [--storm 1000] [--flood 200]
 *
 * 1. ≥ 10,000 generated and mutated bodies (test/fuzz/bodies.ts): crashes, 5xx, slowest answer,
 *    longest event-loop stall (a /health probe every 100 ms: the longest it waited).
 * 2. A disconnect storm: streams cut at random points, then the time until nothing is active.
 * 3. A flood against a queue of 8: statuses, Retry-After, OpenAI shape.
 * 4. kill -9 under load: every fully received response billed once; the killed server's
 *    concurrency lease freed by its restart.
 * 5. Key rotation on 0.0.0.0: the old key refused, the new one served, none open after the last
 *    is revoked.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { Accounting } from "../../src/accounting/Accounting.js";
import { openStore } from "../../src/accounting/store/openStore.js";
import { bodyArb, bounded, MODEL, sendAndCheck } from "../fuzz/bodies.js";
import { type ServerProcess, spawnServer } from "../helpers/cliServer.js";

const { values: opts } = parseArgs({
  options: {
    bodies: { type: "string", default: "10000" },
    storm: { type: "string", default: "1000" },
    flood: { type: "string", default: "200" },
    /** Run one part: bodies, storm, flood, kill, rotation. */
    only: { type: "string" },
  },
});
const KEY = "sk-soak";
const rows: [string, string][] = [];
const row = (what: string, value: string) => {
  rows.push([what, value]);
  process.stderr.write(`${what}: ${value}\n`);
};

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(line?.split(" ").at(-1) ?? Number.NaN);
}

/** Probes /health every 100 ms; the longest wait approximates the longest event-loop stall. */
function stallProbe(url: string): { stop(): number } {
  let worst = 0;
  let running = true;
  void (async () => {
    while (running) {
      const t = performance.now();
      await fetch(`${url}/health`).catch(() => null);
      worst = Math.max(worst, performance.now() - t);
      await sleep(100);
    }
  })();
  return {
    stop: () => {
      running = false;
      return worst;
    },
  };
}

async function idle(url: string, timeoutMs = 10_000): Promise<number> {
  const t = performance.now();
  while (performance.now() - t < timeoutMs) {
    if ((await metric(url, "lunaris_active_sequences")) === 0 && (await metric(url, "lunaris_queue_depth")) === 0)
      return performance.now() - t;
    await sleep(10);
  }
  return Number.POSITIVE_INFINITY;
}

function dataDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "lunaris-soak-"));
}

async function bodies(n: number): Promise<void> {
  const srv = await spawnServer(["--api-key", KEY, "--data-dir", dataDir()]);
  try {
    const rss0 = await metric(srv.url, "lunaris_process_resident_memory_bytes");
    const probe = stallProbe(srv.url);
    let fivexx = 0;
    let problems = 0;
    let slowest = 0;
    let worstLag: { ms: number; body: unknown } = { ms: 0, body: null };
    const slow: { ms: number; body: unknown }[] = [];
    const statuses = new Map<number, number>();
    const samples = fc.sample(bodyArb, { numRuns: n, seed: 7 });
    for (const [i, body] of samples.entries()) {
      const t = performance.now();
      const o = await sendAndCheck(srv.url, KEY, bounded(body)).catch((e: unknown) => ({
        status: 0,
        problem: String(e),
      }));
      const ms = performance.now() - t;
      // The server's own event-loop delay since the last scrape (prom-client resets it on each).
      const lag = 1000 * (await metric(srv.url, "lunaris_nodejs_eventloop_lag_max_seconds"));
      if (lag > worstLag.ms) worstLag = { ms: lag, body };
      slowest = Math.max(slowest, ms);
      if (ms > 1000) slow.push({ ms, body });
      statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
      if (o.status >= 500 || o.status === 0) fivexx++;
      if (o.problem) {
        problems++;
        if (problems <= 5)
          process.stderr.write(`problem: ${o.problem}\n  body: ${JSON.stringify(body).slice(0, 500)}\n`);
      }
      if (srv.child.exitCode !== null) throw new Error(`the server died at body ${i}`);
    }
    const stall = probe.stop();
    for (const s of slow.sort((a, b) => b.ms - a.ms).slice(0, 5))
      process.stderr.write(`slow (${s.ms.toFixed(0)} ms): ${JSON.stringify(s.body).slice(0, 800)}\n`);
    process.stderr.write(
      `longest event-loop delay (${worstLag.ms.toFixed(0)} ms) during: ${JSON.stringify(worstLag.body).slice(0, 1500)}\n`,
    );
    const rss1 = await metric(srv.url, "lunaris_process_resident_memory_bytes");
    row(`${n} generated/mutated bodies: crashes`, srv.child.exitCode === null ? "0" : "1");
    row("  5xx / other problems", `${fivexx} / ${problems - fivexx}`);
    row(
      "  statuses",
      [...statuses]
        .sort((a, b) => a[0] - b[0])
        .map(([s, c]) => `${s}×${c}`)
        .join(", "),
    );
    row("  slowest answer (ms)", slowest.toFixed(0));
    row("  longest event-loop delay on the server from one body (ms)", worstLag.ms.toFixed(0));
    row("  longest /health wait while they ran (ms)", stall.toFixed(0));
    row("  RSS before → after (MiB)", `${(rss0 / 2 ** 20).toFixed(0)} → ${(rss1 / 2 ** 20).toFixed(0)}`);
  } finally {
    await srv.stop();
  }
}

async function storm(n: number): Promise<void> {
  const srv = await spawnServer(["--api-key", KEY, "--data-dir", dataDir()]);
  try {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        const a = new AbortController();
        const res = fetch(`${srv.url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
          body: JSON.stringify({
            model: MODEL,
            messages: [{ role: "user", content: "Tell me a long story" }],
            max_tokens: 300,
            stream: true,
          }),
          signal: a.signal,
        })
          .then((r) => r.text())
          .catch(() => "");
        await sleep(Math.random() * 300);
        a.abort();
        await res;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const settled = await idle(srv.url);
    const lines = await metric(srv.url, 'lunaris_requests_total{route="/v1/chat/completions",status="499"}');
    row(
      `disconnect storm: ${n} streams cut at random points`,
      `0 active / 0 queued ${settled.toFixed(0)} ms after the last`,
    );
    row("  requests counted with status 499", String(lines));
  } finally {
    await srv.stop();
  }
}

async function flood(n: number): Promise<void> {
  const srv = await spawnServer(["--api-key", KEY, "--data-dir", dataDir(), "--max-queue", "8"]);
  try {
    const results = await Promise.all(
      Array.from({ length: n }, () =>
        fetch(`${srv.url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Hi" }], max_tokens: 16 }),
        }).then(async (r) => ({
          status: r.status,
          retry: r.headers.get("retry-after"),
          body: (await r.json()) as { error?: Record<string, unknown> },
        })),
      ),
    );
    const by = new Map<number, number>();
    for (const r of results) by.set(r.status, (by.get(r.status) ?? 0) + 1);
    const refused = results.filter((r) => r.status === 429);
    const shaped = refused.every(
      (r) =>
        r.retry !== null &&
        Object.keys(r.body.error ?? {})
          .sort()
          .join() === "code,message,param,type",
    );
    row(`flood: ${n} at once against a queue of 8`, [...by].map(([s, c]) => `${s}×${c}`).join(", "));
    row("  every 429 with Retry-After and OpenAI's shape", shaped ? "yes" : "NO");
  } finally {
    await srv.stop();
  }
}

async function killUnderLoad(): Promise<void> {
  const dir = dataDir();
  const store = await openStore(undefined, dir);
  const acc = new Accounting(store);
  const { key, secret } = await acc.createKey({ name: "soak", maxConcurrent: 4 });
  await acc.close();
  let srv: ServerProcess = await spawnServer(["--data-dir", dir]);
  const received: string[] = [];
  let stop = false;
  const worker = async () => {
    while (!stop) {
      try {
        const res = await fetch(`${srv.url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
          body: JSON.stringify({
            model: MODEL,
            messages: [{ role: "user", content: "Hi" }],
            max_tokens: 12,
            stream: true,
          }),
        });
        const text = await res.text();
        const final = text.split("\n\n").find((e) => e.includes('"finish_reason":"') && e.includes('"usage"'));
        if (final) received.push((JSON.parse(final.slice(6)) as { id: string }).id);
      } catch {
        // killed mid-response: not fully received
      }
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  while (received.length < 40) await sleep(20);
  srv.child.kill("SIGKILL");
  stop = true;
  await Promise.all(workers);
  const check = await openStore(undefined, dir);
  const billed = new Map<string, number>();
  for (const r of await check.usageRows({ keyId: key.id })) billed.set(r.requestId, (billed.get(r.requestId) ?? 0) + 1);
  await check.close();
  const missing = received.filter((id) => !billed.has(id)).length;
  const twice = [...billed.values()].filter((c) => c > 1).length;
  row(
    "kill -9 under load: responses fully received / billed",
    `${received.length} / ${received.length - missing} (${twice} billed twice)`,
  );
  srv = await spawnServer(["--data-dir", dir]);
  try {
    const statuses = await Promise.all(
      Array.from({ length: 4 }, () =>
        fetch(`${srv.url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
          body: JSON.stringify({
            model: MODEL,
            messages: [{ role: "user", content: "Hi" }],
            max_tokens: 40,
            stream: true,
          }),
        }).then(async (r) => {
          await r.text();
          return r.status;
        }),
      ),
    );
    row(
      "  after restart: the key's 4 concurrent slots",
      statuses.every((s) => s === 200) ? "all free (4 × 200)" : statuses.join(","),
    );
  } finally {
    await srv.stop();
  }
}

async function rotation(): Promise<void> {
  const dir = dataDir();
  const store = await openStore(undefined, dir);
  const seeded = await new Accounting(store).createKey({ name: "operator", isAdmin: true });
  await store.close();
  const srv = await spawnServer(["--data-dir", dir, "--host", "0.0.0.0"]);
  const url = srv.url.replace("0.0.0.0", "127.0.0.1");
  const call = (p: string, secret: string | null, init: RequestInit = {}) =>
    fetch(`${url}${p}`, {
      ...init,
      headers: { "content-type": "application/json", ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
    });
  try {
    const made = (await (
      await call("/v1/admin/keys", seeded.secret, {
        method: "POST",
        body: JSON.stringify({ name: "next", admin: true }),
      })
    ).json()) as { id: string; secret: string };
    await call(`/v1/admin/keys/${seeded.key.id}`, made.secret, { method: "DELETE" });
    const oldRefused = (await call("/v1/admin/keys", seeded.secret)).status === 401;
    const newServed = (await call("/v1/admin/keys", made.secret)).status === 200;
    await call(`/v1/admin/keys/${made.id}`, made.secret, { method: "DELETE" });
    const statuses = await Promise.all(
      [null, "", "x", made.secret].map(async (s) => (await call("/v1/admin/keys", s)).status),
    );
    row(
      "key rotation on 0.0.0.0: old refused / new served",
      `${oldRefused ? "yes" : "NO"} / ${newServed ? "yes" : "NO"}`,
    );
    row("  after the last key is revoked: anonymous, empty, wrong, revoked", statuses.join(", "));
  } finally {
    await srv.stop();
  }
}

const started = Date.now();
const parts: Record<string, () => Promise<void>> = {
  bodies: () => bodies(Number(opts.bodies)),
  storm: () => storm(Number(opts.storm)),
  flood: () => flood(Number(opts.flood)),
  kill: killUnderLoad,
  rotation,
};
for (const [name, run] of Object.entries(parts)) if (opts.only === undefined || opts.only === name) await run();
const table = [
  `Soak ${new Date().toISOString().slice(0, 16).replace("T", " ")} (${os.cpus()[0]?.model ?? "CPU"}, ${os.availableParallelism()} threads), tiny model, \`npm run soak\`, ${Math.round((Date.now() - started) / 60_000)} min.`,
  "",
  "| check | result |",
  "|---|---|",
  ...rows.map(([a, b]) => `| ${a} | ${b} |`),
  "",
].join("\n");
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/soak.md", table);
process.stdout.write(`\n${table}`);
