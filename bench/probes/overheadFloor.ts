/**
 * `npm run bench:overhead -- [--requests 400] [--threads N] [--no-decode]`
 *
 * The bench's server-overhead measurement (bench/overhead.ts) on its own, with both floors
 * beside it (`startFloor`: the same engine behind a bare `node:http` handler and behind one
 * Hono route, doing none of the server's work). Direct engine call, our server and the two
 * floors are timed in turn, the same client for all; medians and their excess over the direct
 * call are printed. `--threads` sets the engine's threads (default: the server's), e.g. 1 to
 * leave the JS thread a core of its own on a 2-core machine. `--no-decode` takes the decode out
 * of the engine (`withoutDecode`: the prompt is still rendered and tokenized): the same four
 * ways then time the server's own work with warm caches and idle cores.
 */
import type { LlamaEngine } from "../../src/engine/llama/LlamaEngine.js";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { directCall, interleaved, oneTokenClient, startFloor, withoutDecode } from "../overhead.js";
import { startInProcess } from "../servers.js";
import { tinyModelPath } from "../../src/model/tinyModel.js";
import { percentile } from "../workloads.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "400" },
    threads: { type: "string" },
    "no-decode": { type: "boolean", default: false },
  },
});
const n = Number(values.requests);
const running = await startInProcess(mkdtempSync(path.join(os.tmpdir(), "lunaris-overhead-")), {
  model: tinyModelPath(),
  ctxSize: 1024,
  parallel: 1,
  threads: values.threads ? Number(values.threads) : undefined,
});
if (values["no-decode"]) withoutDecode(running.engine as LlamaEngine);
const bare = await startFloor(running.engine, "node:http");
const hono = await startFloor(running.engine, "hono");
const clients = [
  oneTokenClient(`${running.url}/v1/chat/completions`),
  oneTokenClient(bare.url),
  oneTokenClient(hono.url),
];
try {
  const [direct = [], viaOurs = [], viaBare = [], viaHono = []] = await interleaved(n, [
    () => directCall(running.engine),
    ...clients.map((c) => c.call),
  ]);
  const m = (xs: number[]) => percentile(xs, 50);
  const excess = (xs: number[]) => `${m(xs).toFixed(2)} ms (+${(m(xs) - m(direct)).toFixed(2)})`;
  process.stdout.write(
    `tiny model${values["no-decode"] ? ", decode taken out (--no-decode)" : ""}, ${values.threads ?? "default"} threads, ${n} requests each way, interleaved; medians:\n` +
      `  engine called directly  ${m(direct).toFixed(2)} ms\n` +
      `  our server              ${excess(viaOurs)}\n` +
      `  bare node:http handler  ${excess(viaBare)}\n` +
      `  bare Hono route         ${excess(viaHono)}\n`,
  );
} finally {
  for (const c of clients) c.close();
  bare.close();
  hono.close();
  await running.close();
}
