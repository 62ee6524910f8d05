import os from "node:os";
import { z } from "zod";

/** One engine behind a gateway (README, "Scaling out"). */
export const upstreamSchema = z
  .object({
    kind: z.enum(["lunaris", "llama-server", "openai"]).default("lunaris"),
    url: z.string().url(),
    weight: z.number().positive().default(1),
    apiKey: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
  })
  .strict();

/** `--upstream [kind=]url[#weight]`: a Lunaris node unless a kind is named. */
export function parseUpstreamFlag(flag: string): z.input<typeof upstreamSchema> {
  const m = /^(?:(lunaris|llama-server|openai)=)?([^#]+)(?:#(\d+(?:\.\d+)?))?$/.exec(flag.trim());
  if (!m) throw new Error(`Invalid --upstream '${flag}': expected [lunaris=|llama-server=|openai=]URL[#weight]`);
  return { kind: (m[1] ?? "lunaris") as "lunaris", url: m[2] as string, ...(m[3] ? { weight: Number(m[3]) } : {}) };
}

/**
 * `lunaris serve` settings: one schema, validated at start-up, then frozen.
 * Precedence: command-line flags > environment (LUNARIS_*) > defaults.
 */
export const serveConfigSchema = z.object({
  model: z.string().min(1),
  /**
   * "api": the OpenAI-compatible API with keys, limits and the ledger, over the model in process
   * or (with upstreams) a fleet. "engine": a node that serves its engine to gateways only.
   */
  role: z.enum(["api", "engine"]).default("api"),
  /** Bearer secret between gateways and nodes; a node off loopback requires one. */
  clusterSecret: z.string().min(16, "a cluster secret has at least 16 characters").optional(),
  /** With upstreams the API is a gateway: no model in process (src/engine/remote/). */
  upstreams: z.array(upstreamSchema).default([]),
  routing: z.enum(["cache-aware", "least-loaded", "round-robin"]).default("cache-aware"),
  healthIntervalMs: z.coerce.number().int().min(100).default(2_000),
  host: z.string().default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  gpu: z.enum(["auto", "cuda", "vulkan", "off"]).default("auto"),
  /** Parallel sequences; default chosen by the engine per device. */
  parallel: z.coerce.number().int().min(1).max(256).optional(),
  threads: z.coerce.number().int().min(1).max(os.availableParallelism()).optional(),
  /** Tokens of context per sequence; default the model's training context. */
  ctxSize: z.coerce.number().int().min(256).optional(),
  batchSize: z.coerce.number().int().min(16).optional(),
  flashAttention: z.enum(["on", "off"]).default("on"),
  maxQueue: z.coerce.number().int().min(0).default(64),
  /** GiB of KV state kept in memory for prefixes whose sequence was reused (files under cacheDir only with the prebuilt addon); 0 = none. */
  prefixCacheGib: z.coerce.number().min(0).default(4),
  queueTimeoutMs: z.coerce.number().int().min(100).default(120_000), // 2 min
  requestTimeoutMs: z.coerce.number().int().min(100).default(600_000), // 10 min
  /** An SSE comment after this long without a byte (a long prefill), so proxies keep the stream; 0 = never. */
  sseKeepAliveMs: z.coerce.number().int().min(0).default(15_000),
  apiKeys: z.array(z.string().min(1)).default([]),
  /** Keys that may manage keys and read everyone's usage. */
  adminKeys: z.array(z.string().min(1)).default([]),
  /** postgres://… for a ledger shared by replicas; otherwise SQLite in dataDir. */
  database: z.string().optional(),
  dataDir: z.string(),
  /** Length of the RPM/TPM window; one minute unless a test shortens it. */
  rateWindowMs: z.coerce.number().int().min(100).default(60_000),
  insecureNoAuth: z.boolean().default(false),
  alias: z.array(z.string().min(1)).default([]),
  /** Browser origins allowed by CORS; "*" for any (keys still apply). */
  corsOrigins: z.array(z.string().min(1)).default(["*"]),
  /** Operator defaults for absent sampling fields, e.g. the model card's {"temperature":1.4,"min_p":0.1}. */
  samplingDefaults: z
    .object({
      temperature: z.number().min(0).max(2),
      top_p: z.number().gt(0).max(1),
      top_k: z.number().int().min(0).max(999),
      min_p: z.number().min(0).max(1),
      presence_penalty: z.number().min(-2).max(2),
      frequency_penalty: z.number().min(-2).max(2),
      repetition_penalty: z.number().min(0.01).max(5),
    })
    .partial()
    .strict()
    .default({}),
  cacheDir: z.string(),
  /** Debug only: include prompt and completion text in the logs. */
  logPrompts: z.boolean().default(false),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type ServeConfig = Readonly<z.infer<typeof serveConfigSchema>>;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith("127.");
}

export function parseServeConfig(input: unknown): ServeConfig {
  const r = serveConfigSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(
      `Invalid setting --${String(i?.path[0] ?? "?").replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}: ${i?.message}`,
    );
  }
  return Object.freeze(r.data);
}
