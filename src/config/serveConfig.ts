import os from "node:os";
import { z } from "zod";

/**
 * `lunaris serve` settings: one schema, validated at start-up, then frozen.
 * Precedence: command-line flags > environment (LUNARIS_*) > defaults.
 */
export const serveConfigSchema = z.object({
  model: z.string().min(1),
  /** The engine behind the API (src/engine/createEngine.ts): "llama", in process on llama.cpp. */
  engine: z.enum(["llama"]).default("llama"),
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
    throw new Error(`Invalid setting --${String(i?.path[0] ?? "?").replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}: ${i?.message}`);
  }
  return Object.freeze(r.data);
}
