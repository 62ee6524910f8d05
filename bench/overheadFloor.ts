/**
 * `npm run bench:overhead -- [--requests 400] [--threads N]`
 *
 * The bench's server-overhead measurement (bench/overhead.ts) on its own, with a floor beside
 * it: a bare `node:http` handler in the same process that parses the JSON body, calls the same
 * engine and writes a minimal JSON reply, with none of the server's work (routing, keys,
 * validation, the ledger, metrics, the OpenAI shape). Direct engine call, our server and the
 * bare handler are timed in turn, the same client for both servers; medians and their excess
 * over the direct call are printed. `--threads` sets the engine's threads (default: the
 * server's), e.g. 1 to leave the JS thread a core of its own on a 2-core machine.
 */
import { mkdtempSync } from "node:fs";
import { type IncomingMessage, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
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

const bare = createServer((req, res) => {
  void (async () => {
    const { messages } = await readJson(req);
    let text = "";
    for await (const e of engine.generate({ ...oneTokenRequest, prompt: { type: "chat", messages } })) if (e.type === "text") text += e.text;
    const out = JSON.stringify({ object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "length" }] });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) }).end(out);
  })();
});
await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
const ours = oneTokenClient(`${running.url}/v1/chat/completions`);
const floor = oneTokenClient(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/`);
try {
  const [direct = [], viaOurs = [], viaBare = []] = await interleaved(n, [() => directCall(engine), ours.call, floor.call]);
  const m = (xs: number[]) => percentile(xs, 50);
  const excess = (xs: number[]) => `${m(xs).toFixed(2)} ms (+${(m(xs) - m(direct)).toFixed(2)})`;
  process.stdout.write(
    `tiny model, ${values.threads ?? "default"} threads, ${n} requests each way, interleaved; medians:\n` +
      `  engine called directly  ${m(direct).toFixed(2)} ms\n` +
      `  our server              ${excess(viaOurs)}\n` +
      `  bare node:http handler  ${excess(viaBare)}\n`,
  );
} finally {
  ours.close();
  floor.close();
  bare.close();
  await running.close();
}
