import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { TEST_CACHE, tinyModelPath } from "./testModel.js";

const execFileP = promisify(execFile);
const CLI = ["--import", "tsx", "src/cli/main.ts"];

/** Runs `lunaris <args>` as a user would, returning stdout. */
export async function lunaris(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await execFileP(process.execPath, [...CLI, ...args], { env: { ...process.env, ...env } });
  return stdout;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Its output so far, one line an entry. */
  logs: string[];
  stop(): Promise<void>;
}

/**
 * `lunaris serve` in its own process on an ephemeral port (or the `--port` given), resolved
 * once the model serves (a gateway: once it has checked its upstreams).
 */
export async function spawnServer(args: string[]): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      "serve",
      "--model",
      tinyModelPath(),
      "--port",
      "0",
      "--ctx-size",
      "1024",
      "--gpu",
      "off",
      "--cache-dir",
      TEST_CACHE,
      ...args,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let url = "";
  const logs: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      logs.push(line);
      const m = /listening on (http:\/\/[^ ]+)/.exec(line);
      if (m?.[1]) url = m[1];
      if (line.includes("serving Sao10K") || line.includes("gateway over")) resolve();
    });
    child.stderr.on("data", (d: Buffer) => logs.push(d.toString()));
    child.once("exit", (code) => reject(new Error(`server exited (${code}): ${logs.join("\n")}`)));
  });
  await ready;
  return {
    url,
    child,
    logs,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}
