import { EngineError } from "../errors.js";
import type {
  Engine,
  EngineStats,
  GenerationEvent,
  GenerationRequest,
  ModelDescriptor,
  UpstreamStatus,
} from "../types.js";
import { DEFAULT_ROUTER, PrefixRouter, type RouterOptions } from "./PrefixRouter.js";
import {
  FEATURE_PARAMS,
  type Feature,
  UpstreamRefused,
  featuresOf,
  type UpstreamClient,
  type UpstreamProbe,
} from "./upstream.js";

/** Per-request figures, for per-upstream metrics (observability/ implements it). */
export interface FleetObserver {
  routed(url: string, prefixHit: boolean): void;
  finished(url: string, outcome: "ok" | "error" | "refused" | "aborted", firstEventMs: number | null): void;
}

export interface FleetOptions {
  /** The served id and aliases (the upstreams' own names do not show). */
  id: string;
  aliases: readonly string[];
  clients: readonly UpstreamClient[];
  router?: RouterOptions | undefined;
  healthIntervalMs?: number | undefined;
  /** Upstreams tried for one request before giving up (each refused before its first byte). */
  maxAttempts?: number | undefined;
  log(message: string): void;
  observer?: FleetObserver | undefined;
}

interface Member {
  client: UpstreamClient;
  id: string;
  healthy: boolean;
  inFlight: number;
  queueDepth: number | null;
  sequences: number;
  modelInfo: UpstreamProbe["modelInfo"];
  requests: number;
  errors: number;
  prefixHits: number;
  lastError: string | null;
  ejectedAt: number | null;
  model: Partial<ModelDescriptor> | null;
}

const PROBE_TIMEOUT_MS = 2_000;

/** The text a request's prompt is routed by: each turn of a chat extends the previous turn's key. */
export function routingKey(r: GenerationRequest): string {
  const p = r.prompt;
  if (p.type === "text") return p.text;
  if (p.type === "tokens") return p.tokens.join(",");
  const tools = r.tools ? JSON.stringify(r.tools.tools) : "";
  let key = tools;
  for (const m of p.messages)
    key += `\u0000${m.role}\u0000${m.content}${m.toolCalls ? JSON.stringify(m.toolCalls) : ""}`;
  return key;
}

/**
 * The `Engine` a gateway serves from: a fleet of upstream engines (Lunaris nodes, llama-server,
 * OpenAI-compatible servers). Routes each request (PrefixRouter), retries one refused before its
 * first byte on another (bounded; never after the first byte, so never billed twice), ejects
 * upstreams that fail and takes them back when their health check passes.
 */
export class FleetEngine implements Engine {
  model: ModelDescriptor;
  private readonly members: Member[];
  private readonly router: PrefixRouter;
  private readonly timer: NodeJS.Timeout;
  private readonly maxAttempts: number;
  private closed = false;

  private constructor(private readonly options: FleetOptions) {
    this.members = options.clients.map((client) => ({
      client,
      id: client.config.url,
      healthy: false,
      inFlight: 0,
      queueDepth: null,
      sequences: 0,
      modelInfo: undefined,
      requests: 0,
      errors: 0,
      prefixHits: 0,
      lastError: null,
      ejectedAt: null,
      model: null,
    }));
    this.router = new PrefixRouter(options.router ?? DEFAULT_ROUTER);
    this.maxAttempts = options.maxAttempts ?? Math.min(3, this.members.length);
    this.model = {
      id: options.id,
      aliases: options.aliases,
      contextLength: 8192,
      file: "fleet",
      quantization: "upstream",
      demo: false,
    };
    this.timer = setInterval(() => void this.checkHealth(), options.healthIntervalMs ?? 2_000);
    this.timer.unref();
  }

  /** Starts with one round of health checks (the served model's shape comes from the first that answers). */
  static async start(options: FleetOptions): Promise<FleetEngine> {
    if (options.clients.length === 0) throw new Error("A gateway needs at least one upstream (--upstream).");
    const fleet = new FleetEngine(options);
    await fleet.checkHealth();
    return fleet;
  }

  private async checkHealth(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        try {
          const probe = await m.client.probe(AbortSignal.timeout(PROBE_TIMEOUT_MS));
          m.queueDepth = probe.queueDepth ?? null;
          m.sequences = probe.sequences ?? 0;
          m.modelInfo = probe.modelInfo ?? m.modelInfo;
          m.model = probe.model;
          if (!m.healthy) {
            // Back from an ejection (perhaps a restart): whatever it held may be gone.
            if (m.ejectedAt !== null) this.options.log(`upstream ${m.id} is healthy again; rejoining`);
            this.router.forget(m.id);
            m.healthy = true;
          }
        } catch (e) {
          if (m.healthy || m.ejectedAt === null) this.eject(m, e);
        }
      }),
    );
    this.describeModel();
  }

  private describeModel(): void {
    const known = this.members.filter((m) => m.healthy && m.model);
    if (known.length === 0) return;
    const contexts = known.map((m) => m.model?.contextLength).filter((n): n is number => typeof n === "number");
    const first = known[0]?.model;
    this.model = {
      ...this.model,
      contextLength: contexts.length > 0 ? Math.min(...contexts) : this.model.contextLength,
      quantization: first?.quantization ?? "upstream",
      file: first?.file ?? "fleet",
      demo: first?.demo ?? false,
    };
  }

  private eject(m: Member, cause: unknown): void {
    const message = cause instanceof Error ? cause.message : String(cause);
    if (m.healthy || m.ejectedAt === null) this.options.log(`upstream ${m.id} ejected: ${message}`);
    m.healthy = false;
    m.ejectedAt = Date.now();
    m.lastError = message;
  }

  /** Healthy members able to serve the request, and the fields the chosen kind would ignore. */
  private candidates(request: GenerationRequest, tried: ReadonlySet<Member>): { members: Member[]; ignored: string[] } {
    const healthy = this.members.filter((m) => m.healthy && !tried.has(m));
    if (healthy.length === 0) {
      throw new EngineError(
        "upstream_unavailable",
        "No upstream engine is available to serve this request. Retry shortly.",
        null,
        2,
      );
    }
    const needs = featuresOf(request);
    const full = healthy.filter((m) => needs.every((f) => m.client.features.has(f)));
    if (full.length > 0) return { members: full, ignored: [] };
    // Only OpenAI-compatible upstreams forward without the feature, and say so in a header.
    const lenient = healthy.filter((m) => m.client.config.kind === "openai");
    const missing = (m: Member): Feature[] => needs.filter((f) => !m.client.features.has(f));
    if (lenient.length > 0)
      return { members: lenient, ignored: [...new Set(missing(lenient[0] as Member).map((f) => FEATURE_PARAMS[f]))] };
    const f = missing(healthy[0] as Member)[0] as Feature;
    throw new EngineError(
      "unsupported_parameter",
      `No upstream of this gateway supports '${FEATURE_PARAMS[f]}'.`,
      FEATURE_PARAMS[f],
    );
  }

  generate(request: GenerationRequest): AsyncIterable<GenerationEvent> {
    return this.run(request);
  }

  private async *run(request: GenerationRequest): AsyncGenerator<GenerationEvent> {
    const key = routingKey(request);
    const blocks = this.router.blocks(key); // hashed once: choosing and remembering read the same
    const tried = new Set<Member>();
    let refusal: UpstreamRefused | null = null;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (this.closed) throw new EngineError("engine_closed", "The server is shutting down.");
      let pick: { members: Member[]; ignored: string[] };
      try {
        pick = this.candidates(request, tried);
      } catch (e) {
        if (refusal && e instanceof EngineError && e.code === "upstream_unavailable") break;
        throw e;
      }
      const route = this.router.choose(
        blocks,
        pick.members.map((m) => ({ id: m.id, inFlight: m.inFlight, weight: m.client.config.weight })),
      );
      const m = pick.members[route.index] as Member;
      tried.add(m);
      try {
        yield* this.dispatch(m, request, key, blocks, route.matchedBlocks > 0, pick.ignored);
        return;
      } catch (e) {
        if (!(e instanceof UpstreamRefused)) throw e;
        refusal = e; // before its first byte: another upstream may serve it
      }
    }
    throw new EngineError(
      "upstream_unavailable",
      `Every upstream engine tried refused this request${refusal ? ` (last: ${refusal.message})` : ""}. Retry shortly.`,
      null,
      refusal?.retryAfterS ?? 2,
    );
  }

  /**
   * One try on one upstream. Throws UpstreamRefused only before the first event (the caller
   * tries another); anything after it ends the request (never retried: never billed twice).
   */
  private async *dispatch(
    m: Member,
    request: GenerationRequest,
    key: string,
    blocks: readonly number[],
    hit: boolean,
    ignored: readonly string[],
  ): AsyncGenerator<GenerationEvent> {
    this.router.remember(m.id, blocks);
    m.requests++;
    if (hit) m.prefixHits++;
    this.options.observer?.routed(m.id, hit);
    const abort = new AbortController();
    const onAbort = () => abort.abort(request.signal?.reason);
    request.signal?.addEventListener("abort", onAbort, { once: true });
    const t0 = performance.now();
    let firstMs: number | null = null;
    let outcome: "ok" | "error" | "refused" | "aborted" = "ok";
    let reply = "";
    m.inFlight++;
    try {
      for await (const ev of m.client.generate(request, abort.signal)) {
        if (firstMs === null) firstMs = performance.now() - t0;
        if (ev.type === "text" && ev.choice === 0) reply += ev.text;
        yield ev.type === "start" && ignored.length > 0
          ? { ...ev, ignoredParams: [...(ev.ignoredParams ?? []), ...ignored] }
          : ev;
      }
      // The node now also holds the reply: the chat's next turn will start with it.
      if (request.prompt.type === "chat" && reply !== "")
        this.router.remember(m.id, `${key}\u0000assistant\u0000${reply}`);
    } catch (e) {
      outcome =
        request.signal?.aborted || abort.signal.aborted
          ? "aborted"
          : e instanceof UpstreamRefused && firstMs === null
            ? "refused"
            : "error";
      if (outcome !== "aborted") {
        m.errors++;
        m.lastError = e instanceof Error ? e.message : String(e);
      }
      if (outcome === "refused" && (e as UpstreamRefused).eject) this.eject(m, e);
      if (outcome === "error" && e instanceof EngineError && e.code === "upstream_failed") this.eject(m, e.cause ?? e);
      if (outcome === "error" && e instanceof UpstreamRefused) throw new EngineError("upstream_failed", e.message);
      throw e;
    } finally {
      m.inFlight--;
      request.signal?.removeEventListener("abort", onAbort);
      abort.abort(); // a consumer that stopped reading ends the upstream request too
      this.options.observer?.finished(m.id, outcome, firstMs);
    }
  }

  /** Tokenizes on a healthy upstream that can (every Lunaris node and llama-server can). */
  async tokenize(text: string, special: boolean, addBos = false): Promise<number[]> {
    const m = this.tokenizer();
    return (m.client.tokenize as NonNullable<UpstreamClient["tokenize"]>).call(m.client, text, special, addBos);
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    const m = this.tokenizer();
    return (m.client.detokenize as NonNullable<UpstreamClient["detokenize"]>).call(m.client, tokens);
  }

  private tokenizer(): Member {
    const m = this.members.find((x) => x.healthy && x.client.tokenize && x.client.detokenize);
    if (!m) throw new EngineError("upstream_unavailable", "No healthy upstream of this gateway can tokenize.", null, 2);
    return m;
  }

  /** The chat template and special tokens, as an upstream reported them (Llama 3's otherwise). */
  async modelInfo(): Promise<{ chatTemplate: string | null; bosToken: string; eosToken: string }> {
    const known = this.members.find((m) => m.healthy && m.modelInfo)?.modelInfo;
    return known ?? { chatTemplate: null, bosToken: "<|begin_of_text|>", eosToken: "<|eot_id|>" };
  }

  stats(): EngineStats {
    let queueDepth = 0;
    let active = 0;
    let sequences = 0;
    for (const m of this.members) {
      active += m.inFlight;
      if (!m.healthy) continue;
      queueDepth += m.queueDepth ?? 0;
      sequences += m.sequences;
    }
    return { queueDepth, activeSequences: active, totalSequences: sequences, storedPrefixes: 0, storedPrefixBytes: 0 };
  }

  /** Health and load of every upstream (admin endpoint, `lunaris upstreams`). */
  upstreams(): UpstreamStatus[] {
    return this.members.map((m) => ({
      url: m.id,
      kind: m.client.config.kind,
      weight: m.client.config.weight,
      healthy: m.healthy,
      inFlight: m.inFlight,
      queueDepth: m.queueDepth,
      requests: m.requests,
      errors: m.errors,
      prefixHits: m.prefixHits,
      lastError: m.lastError,
      ejectedAt: m.ejectedAt,
    }));
  }

  /** Whether any upstream is healthy (the gateway's /health). */
  get available(): boolean {
    return this.members.some((m) => m.healthy);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
  }
}
