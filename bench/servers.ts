import os from "node:os";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { parseServeConfig } from "../src/config/serveConfig.js";
import type { Engine } from "../src/engine/types.js";
import { startServer } from "../src/server.js";
import { toolPath } from "./llamaCppBuild.js";
import { takeStreamErrors } from "./workloads.js";

export interface BenchServer {
  name: "lunaris" | "llama-server";
  /** OpenAI base, e.g. http://127.0.0.1:PORT/v1 */
  base: string;
  pid: number;
  stop(): Promise<void>;
}

export interface ServerSettings {
  model: string;
  threads: number;
  slots: number;
  ctxPerSlot: number;
  /** Lunaris only: the GPU backend (default off: CPU comparisons) and tokens per decode step. */
  gpu?: "cuda" | "vulkan" | "off";
  batchSize?: number;
  /** Lunaris only: --prefix-cache-gib (default: the server's). */
  prefixCacheGib?: number;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as { port: number }).port;
  srv.close();
  return port;
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs = 600_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`server at ${url} not healthy in time`);
}

function wrap(name: BenchServer["name"], child: ChildProcess, port: number): BenchServer {
  return {
    name,
    base: `http://127.0.0.1:${port}/v1`,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await Promise.race([once(child, "exit"), sleep(10_000).then(() => child.kill("SIGKILL"))]);
    },
  };
}

export async function startLunaris(s: ServerSettings, dataDir: string): Promise<BenchServer> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "serve",
      "--model",
      s.model,
      "--port",
      String(port),
      "--threads",
      String(s.threads),
      "--parallel",
      String(s.slots),
      "--ctx-size",
      String(s.ctxPerSlot),
      "--gpu",
      s.gpu ?? "off",
      "--data-dir",
      dataDir,
      "--log-level",
      "warn",
      ...(s.batchSize ? ["--batch-size", String(s.batchSize)] : []),
      ...(s.prefixCacheGib !== undefined ? ["--prefix-cache-gib", String(s.prefixCacheGib)] : []),
      "--max-queue",
      "256",
    ],
    // What bin/lunaris.js sets for users: a libuv pool as wide as the machine (sampling runs there).
    {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, UV_THREADPOOL_SIZE: String(Math.max(4, os.availableParallelism())) },
    },
  );
  await waitHealthy(`http://127.0.0.1:${port}`, child);
  return wrap("lunaris", child, port);
}

export async function startLlamaServer(s: ServerSettings): Promise<BenchServer> {
  const port = await freePort();
  const child = spawn(
    toolPath("llama-server"),
    [
      "-m",
      s.model,
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "-t",
      String(s.threads),
      "-tb",
      String(s.threads),
      "-np",
      String(s.slots),
      "-c",
      String(s.ctxPerSlot * s.slots),
      "--no-kv-unified",
      "--no-webui",
      "-ngl",
      "0",
      // The Jinja path parses replies for tool calls and fails on random-weights gibberish
      // ("does not match the expected peg-native format"); the built-in Llama 3 template does not.
      "--no-jinja",
    ],
    { stdio: ["ignore", "ignore", "ignore"] },
  );
  await waitHealthy(`http://127.0.0.1:${port}`, child);
  return wrap("llama-server", child, port);
}

/**
 * The real server in this process (CPU, silent logs, its cache in `dataDir`), with its engine:
 * for measurements that time the engine directly or watch it beside HTTP requests.
 */
export async function startInProcess(
  dataDir: string,
  s: { model: string; ctxSize: number; parallel: number; threads?: number | undefined },
): Promise<{ url: string; engine: Engine; close(): Promise<void> }> {
  const cfg = parseServeConfig({ ...s, port: 0, cacheDir: dataDir, dataDir, gpu: "off" });
  const running = await startServer(cfg, pino({ level: "silent" }));
  await running.ready;
  const engine = running.engine();
  if (!engine) throw new Error("engine not loaded");
  return { url: running.url, engine, close: () => running.close() };
}

/** Resident set size of a process, in MiB (Linux). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0); // utime + stime
}

/**
 * Waits until no server uses CPU (under 10% of a core over 250 ms). llama-server keeps
 * generating after its stream parser has ended a stream with an error, so without this the
 * next workload would share the cores with that leftover work.
 */
export async function waitIdle(servers: readonly BenchServer[], timeoutMs = 180_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = servers.map((s) => cpuTicks(s.pid));
  while (Date.now() < end) {
    await sleep(250);
    const now = servers.map((s) => cpuTicks(s.pid));
    const busy = now.some((t, i) => t - (last[i] ?? 0) > 2); // clock ticks are 10 ms
    last = now;
    if (!busy) return;
  }
}

/**
 * Runs `fn` on every server in turn, the order flipping with `round`; errors from the shared
 * stream counter are charged to the server that was running.
 */
export async function inTurn<T>(
  servers: readonly BenchServer[],
  round: number,
  errors: Map<string, number>,
  fn: (s: BenchServer) => Promise<T>,
): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
    await waitIdle(servers);
    takeStreamErrors();
    out.set(s.name, await fn(s));
    errors.set(s.name, (errors.get(s.name) ?? 0) + takeStreamErrors());
  }
  return out;
}
