import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { LUNARIS } from "../catalog.js";
import { parseServeConfig, parseUpstreamFlag } from "../config/serveConfig.js";
import { defaultCacheDir, defaultDataDir } from "../config/paths.js";
import { startNode } from "../node/startNode.js";
import { startServer } from "../server.js";
import { createProgressBar } from "./progressBar.js";

function keysFrom(opts: { apiKey?: string[]; keysFile?: string }): string[] {
  const keys = [...(opts.apiKey ?? [])];
  keys.push(...splitList(process.env.LUNARIS_API_KEYS));
  const file = opts.keysFile ?? process.env.LUNARIS_KEYS_FILE;
  if (file) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const k = line.trim();
      if (k && !k.startsWith("#")) keys.push(k);
    }
  }
  return keys;
}

const splitList = (v: string | undefined): string[] =>
  (v ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `--upstream` flags, LUNARIS_UPSTREAMS (comma-separated) and `--upstreams-file` (a JSON array). */
function upstreamsFrom(opts: { upstream?: string[]; upstreamsFile?: string }): unknown[] {
  const flags = [...(opts.upstream ?? []), ...splitList(process.env.LUNARIS_UPSTREAMS)].map(parseUpstreamFlag);
  const file = opts.upstreamsFile ?? process.env.LUNARIS_UPSTREAMS_FILE;
  const listed = file ? (JSON.parse(readFileSync(file, "utf8")) as unknown) : [];
  if (!Array.isArray(listed))
    throw new Error(`${file}: expected a JSON array of upstreams ({"kind","url","weight","apiKey","model"})`);
  return [...flags, ...listed];
}

// eslint-disable-next-line max-lines-per-function -- one declarative list of the serve flags, read top to bottom
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("Serve the OpenAI-compatible API")
    .option(
      "--model <path|hf-ref|demo>",
      "GGUF path, hf:owner/repo:QUANT, or 'demo' (tiny random model)",
      process.env.LUNARIS_MODEL ?? LUNARIS.defaultFile,
    )
    .option(
      "--role <api|engine>",
      "api: the OpenAI-compatible API; engine: a node serving its model to gateways only",
      process.env.LUNARIS_ROLE ?? "api",
    )
    .option(
      "--upstream <[kind=]url[#weight]>",
      "gateway: serve from this engine instead of a local model (repeatable; kind lunaris (default), llama-server or openai)",
      collect,
    )
    .option("--upstreams-file <file>", 'gateway: a JSON array of upstreams, [{"kind","url","weight","apiKey","model"}]')
    .option(
      "--routing <policy>",
      "gateway: cache-aware (default), least-loaded or round-robin",
      process.env.LUNARIS_ROUTING ?? "cache-aware",
    )
    .option("--health-interval-ms <ms>", "gateway: how often upstreams are health-checked", "2000")
    .option(
      "--cluster-secret <secret>",
      "the secret between gateways and engine nodes (also LUNARIS_CLUSTER_SECRET)",
      process.env.LUNARIS_CLUSTER_SECRET,
    )
    .option("--host <host>", "address to bind", process.env.LUNARIS_HOST ?? "127.0.0.1")
    .option("--port <port>", "port", process.env.LUNARIS_PORT ?? "8080")
    .option("--gpu <auto|cuda|vulkan|off>", "GPU backend", process.env.LUNARIS_GPU ?? "auto")
    .option("--parallel <n>", "parallel sequences (default: 4 on CPU; on a GPU as many as free VRAM holds, up to 64)")
    .option(
      "--threads <n>",
      "CPU threads (default: the physical cores, performance cores on hybrid CPUs, as llama.cpp counts them)",
    )
    .option("--ctx-size <tokens>", "context per sequence (default: the model's, 8192)")
    .option("--batch-size <tokens>", "tokens per decode step (default: 256 on CPU, 2048 on GPU)")
    .option(
      "--flash-attention <on|off>",
      "flash attention (faster attention over long contexts; llama-server's default too)",
      "on",
    )
    .option(
      "--prefix-cache-gib <GiB>",
      "KV state kept in memory for conversations whose sequence was reused, loaded back when they return (0: off)",
      "4",
    )
    .option("--max-queue <n>", "requests that may wait for a sequence before 429", "64")
    .option("--queue-timeout-ms <ms>", "longest wait for a sequence before 503", "120000")
    .option("--request-timeout-ms <ms>", "longest a request may run", "600000")
    .option(
      "--sse-keep-alive-ms <ms>",
      "send an SSE comment after this long without output, e.g. during a long prefill (0: never)",
      "15000",
    )
    .option("--api-key <key>", "accept this API key (repeatable; also LUNARIS_API_KEYS)", collect)
    .option("--keys-file <file>", "file with one API key per line (also LUNARIS_KEYS_FILE)")
    .option("--insecure-no-auth", "allow serving a non-loopback address without API keys", false)
    .option("--alias <id>", "extra served model id (repeatable)", collect)
    .option(
      "--sampling-defaults <json>",
      'defaults for absent sampling fields, e.g. \'{"temperature":1.4,"min_p":0.1}\' (the model card\'s)',
      process.env.LUNARIS_SAMPLING_DEFAULTS,
    )
    .option(
      "--cors-origins <list>",
      "comma-separated browser origins allowed to call the API, or * (default)",
      process.env.LUNARIS_CORS_ORIGINS ?? "*",
    )
    .option("--admin-key <key>", "accept this key as an admin key (repeatable; also LUNARIS_ADMIN_KEYS)", collect)
    .option(
      "--database <url>",
      "postgres://… to share the ledger and limits between replicas (also LUNARIS_DATABASE_URL); default SQLite",
      process.env.LUNARIS_DATABASE_URL,
    )
    .option("--data-dir <dir>", "where the SQLite ledger lives", defaultDataDir())
    .option("--rate-window-ms <ms>", "length of the RPM/TPM window (for tests)", "60000")
    .option("--cache-dir <dir>", "where downloaded and generated models live", defaultCacheDir())
    .option("--log-prompts", "debug: log prompt and completion text (never on by default)", false)
    .option("--log-level <level>", "fatal|error|warn|info|debug", process.env.LUNARIS_LOG_LEVEL ?? "info")
    .action(
      async (
        opts: Record<string, unknown> & {
          apiKey?: string[];
          keysFile?: string;
          upstream?: string[];
          upstreamsFile?: string;
        },
      ) => {
        const adminKeys = [
          ...((opts.adminKey as string[] | undefined) ?? []),
          ...splitList(process.env.LUNARIS_ADMIN_KEYS),
        ];
        const corsOrigins = splitList(opts.corsOrigins as string | undefined);
        const samplingDefaults = opts.samplingDefaults ? (JSON.parse(String(opts.samplingDefaults)) as unknown) : {};
        const upstreams = upstreamsFrom(opts);
        const cfg = parseServeConfig({
          ...opts,
          apiKeys: keysFrom(opts),
          adminKeys,
          alias: opts.alias ?? [],
          corsOrigins,
          samplingDefaults,
          upstreams,
        });
        const bar = createProgressBar("model");
        const onProgress = (done: number, total: number | null) => bar.update(done, total);
        const running =
          cfg.role === "engine"
            ? await startNode(cfg, undefined, onProgress)
            : await startServer(cfg, undefined, { onProgress });
        // Last resort: an error that escaped a request's own handling is logged and the server keeps
        // serving everyone else (each generation already ends alone on its own errors).
        process.on("unhandledRejection", (err) => running.log.error({ err }, "unhandled rejection; still serving"));
        process.on("uncaughtException", (err) => running.log.error({ err }, "uncaught exception; still serving"));
        let stopping = false;
        const stop = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          process.stderr.write(`\n${signal}: draining and shutting down…\n`);
          await running.close();
          process.exit(0);
        };
        process.on("SIGINT", () => void stop("SIGINT"));
        process.on("SIGTERM", () => void stop("SIGTERM"));
        try {
          await running.ready;
        } catch (e) {
          process.stderr.write(`lunaris: ${e instanceof Error ? e.message : String(e)}\n`);
          await running.close().catch(() => undefined);
          process.exit(1);
        }
      },
    );
}
