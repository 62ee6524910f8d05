import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { ensureLlamaCppTools } from "../../scripts/llama-cpp-tools.mjs";
import { tinyModelPath } from "./testModel.js";

/** A free loopback port (taken and released: llama-server needs a number up front). */
export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, "close");
  return port;
}

export interface LlamaServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * llama.cpp's own `llama-server`, built once from node-llama-cpp's bundled source at the same
 * commit (scripts/llama-cpp-tools.mjs; CI builds it before the tests), serving the tiny model.
 */
export async function spawnLlamaServer(slots = 2, ctxPerSlot = 2048): Promise<LlamaServerProcess> {
  const [bin] = ensureLlamaCppTools(["llama-server"]);
  const port = await freePort();
  const child = spawn(
    bin as string,
    [
      "-m",
      tinyModelPath(),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "-np",
      String(slots),
      "-c",
      String(slots * ctxPerSlot),
      "-t",
      "2",
      "--no-ui",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  child.stdout?.on("data", (d: Buffer) => logs.push(d.toString()));
  child.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited: ${logs.join("")}`);
    const ok = await fetch(`${url}/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`llama-server did not start: ${logs.join("")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}
