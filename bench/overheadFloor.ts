/**
 * `npm run bench:overhead -- [--requests 400] [--threads N]`
 *
 * The bench's server-overhead measurement (bench/overhead.ts) on its own, with two floors beside
 * it, in the same process around the same engine, doing none of the server's work (keys,
 * validation, the ledger, metrics, the OpenAI shape): a bare `node:http` handler that parses
 * the JSON body, generates and writes a minimal JSON reply, and the same as one Hono route on
 * @hono/node-server (our stack), reading the body from Node's stream as our routes do. Direct
 * engine call, our server and the two floors are timed in turn, the same client for all;
 * medians and their excess over the direct call are printed. `--threads` sets the engine's threads (default: the
 * server's), e.g. 1 to leave the JS thread a core of its own on a 2-core machine.
 */
import { mkdtempSync } from "node:fs";
import { type IncomingMessage, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { ChatMessage } from "../src/engine/types.js";
import { directCall, interleaved, oneTokenClient, oneTokenRequest, startInProcess } from "./overhead.js";
import { percentile } from "./workloads.js";

const { values } = parseArgs({ options: { requests: { type: "string", default: "400" }, threads: { type: "string" } } });
const n = Number(values.requests);
const running = await startInProcess(mkdtempSync(path.join(os.tmpdir(), "lunaris-overhead-")), values.threads ? Number(values.threads) : undefined);
const { engine } = running;

async function readJson(req: IncomingMessage): Promise<{ messages: ChatMessage[] }> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as { messages: ChatMessage[] };
}

/** The floors' whole work: generate for the request's messages, answer with a minimal JSON body. */
async function reply(req: IncomingMessage): Promise<string> {
  const { messages } = await readJson(req);
  let text = "";
  for await (const e of engine.generate({ ...oneTokenRequest, prompt: { type: "chat", messages } })) if (e.type === "text") text += e.text;
  return JSON.stringify({ object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "length" }] });
}

const bare = createServer((req, res) => {
  void reply(req).then((out) => res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) }).end(out));
});
await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
const hono = new Hono<{ Bindings: { incoming: IncomingMessage } }>();
hono.post("/", async (c) => c.body(await reply(c.env.incoming), 200, { "content-type": "application/json" }));
const honoServer = await new Promise<ReturnType<typeof serve>>((resolve) => {
  const s = serve({ fetch: hono.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
});
const ours = oneTokenClient(`${running.url}/v1/chat/completions`);
const floor = oneTokenClient(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/`);
const honoFloor = oneTokenClient(`http://127.0.0.1:${(honoServer.address() as AddressInfo).port}/`);
try {
  const [direct = [], viaOurs = [], viaBare = [], viaHono = []] = await interleaved(n, [() => directCall(engine), ours.call, floor.call, honoFloor.call]);
  const m = (xs: number[]) => percentile(xs, 50);
  const excess = (xs: number[]) => `${m(xs).toFixed(2)} ms (+${(m(xs) - m(direct)).toFixed(2)})`;
  process.stdout.write(
    `tiny model, ${values.threads ?? "default"} threads, ${n} requests each way, interleaved; medians:\n` +
      `  engine called directly  ${m(direct).toFixed(2)} ms\n` +
      `  our server              ${excess(viaOurs)}\n` +
      `  bare node:http handler  ${excess(viaBare)}\n` +
      `  bare Hono route         ${excess(viaHono)}\n`,
  );
} finally {
  ours.close();
  floor.close();
  honoFloor.close();
  bare.close();
  honoServer.close();
  await running.close();
}
