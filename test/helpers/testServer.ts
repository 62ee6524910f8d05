import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import pino from "pino";
import { parseServeConfig, type ServeConfig } from "../../src/config/serveConfig.js";
import { startNode } from "../../src/node/startNode.js";
import { type RunningServer, type StartOptions, startServer } from "../../src/server.js";
import { TEST_CACHE, tinyModelPath } from "./testModel.js";

export const MODEL_ID = "Sao10K/L3-8B-Lunaris-v1";

export interface TestServer extends RunningServer {
  base: string;
  client: OpenAI;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

/** The real server on an ephemeral loopback port, serving the tiny model on the real engine. */
/** Settings for a real server on an ephemeral loopback port with the tiny model and a fresh ledger. */
export function testServeConfig(overrides: Partial<Record<keyof ServeConfig, unknown>> = {}): ServeConfig {
  return parseServeConfig({
    model: tinyModelPath(),
    port: 0,
    cacheDir: TEST_CACHE,
    dataDir: mkdtempSync(path.join(os.tmpdir(), "lunaris-test-")),
    ctxSize: 2048,
    gpu: "off",
    logLevel: "silent",
    ...overrides,
  });
}

/**
 * With LUNARIS_TEST_GATEWAY=1 the same tests run through a gateway: two engine nodes (in this
 * process, over real HTTP) with the tiny model, and the API in front of them as a gateway
 * (test/fleet/ runs the chat API's own test files this way).
 */
async function startViaGateway(
  overrides: Partial<Record<keyof ServeConfig, unknown>>,
  logger: pino.Logger,
  options: StartOptions,
): Promise<RunningServer> {
  const nodes = await Promise.all(
    [0, 1].map(() => startNode(testServeConfig({ ...overrides, apiKeys: [], adminKeys: [], role: "engine" }), logger)),
  );
  await Promise.all(nodes.map((n) => n.ready));
  const cfg = testServeConfig({ ...overrides, upstreams: nodes.map((n) => ({ url: n.url })) });
  const running = await startServer(cfg, logger, options);
  return {
    ...running,
    async close() {
      await running.close();
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}

export const VIA_GATEWAY = process.env.LUNARIS_TEST_GATEWAY === "1";

export async function startTestServer(
  overrides: Partial<Record<keyof ServeConfig, unknown>> = {},
  logger?: pino.Logger,
  options: StartOptions = {},
): Promise<TestServer> {
  const cfg = testServeConfig(overrides);
  const log = logger ?? pino({ level: cfg.logLevel });
  const running = VIA_GATEWAY ? await startViaGateway(overrides, log, options) : await startServer(cfg, log, options);
  await running.ready;
  const key = cfg.apiKeys[0] ?? "unused";
  const base = `${running.url}/v1/openai`;
  return {
    ...running,
    base,
    client: new OpenAI({ baseURL: base, apiKey: key, maxRetries: 0 }),
    post: (path, body, headers = {}) =>
      fetch(`${running.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
  };
}

/** Parses an SSE body into its `data:` payloads, checking the framing on the way. */
export function parseSse(text: string): string[] {
  if (!text.endsWith("\n\n"))
    throw new Error(`SSE body does not end with a blank line: ${JSON.stringify(text.slice(-40))}`);
  return text
    .slice(0, -2)
    .split("\n\n")
    .map((event) => {
      if (!event.startsWith("data: ")) throw new Error(`not a data event: ${JSON.stringify(event)}`);
      return event.slice("data: ".length);
    });
}

/** A response body as loosely typed JSON: tests assert on its shape field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
export async function readJson(res: Response): Promise<Json> {
  return res.json();
}
