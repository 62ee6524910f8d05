import path from "node:path";
import { type Llama, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";
import { decodeFirst } from "./batchOrder.js";
import { type Llama3Specials, renderLlama3Prompt } from "../chatPrompt.js";
import { hasNvidiaGpu, missingCudaLibraries } from "./cudaCheck.js";
import { defaultThreads, gib, llama3Specials, openLlama, quantizationName, sequencesForVram } from "./loading.js";
import { EngineError, contextOverflow } from "../errors.js";
import { EventChannel } from "../EventChannel.js";
import type { ChoiceJob, OutputMode } from "./Generation.js";
import { GrammarCache } from "./GrammarCache.js";
import { PrefixStore } from "./PrefixStore.js";
import { Scheduler } from "./Scheduler.js";
import { TokenBytes } from "../tokenBytes.js";
import { Utf8Vocabulary } from "../grammar/utf8Guard.js";
import { withToolInstructions } from "../tools/llama3ToolFormat.js";
import { outputGrammar } from "../outputGrammar.js";
import type {
  ChatMessage,
  Engine,
  EngineStats,
  GenerationEvent,
  GenerationRequest,
  ModelDescriptor,
  PromptInput,
  PromptTokenLogprob,
} from "../types.js";

export type GpuChoice = "auto" | "cuda" | "vulkan" | "off";

export interface LlamaEngineOptions {
  modelPath: string;
  /** Served id and aliases; the file name is filled in here. */
  id: string;
  aliases: readonly string[];
  demo: boolean;
  gpu: GpuChoice;
  /** CPU threads; default: the cores llama.cpp counts for math (`defaultThreads`). */
  threads?: number | undefined;
  /** Parallel sequences (slots); default 4 on CPU (only 4-wide batches pay off there); on a GPU as many as the free VRAM holds, up to 64. */
  parallel?: number | undefined;
  /** Context per sequence, in tokens; default: the model's training context. */
  contextSize?: number | undefined;
  /** Tokens per llama_decode; also the prefill chunk that running streams wait behind. */
  batchSize?: number | undefined;
  /**
   * Flash attention: on CPU too it is faster once contexts grow (measured on the 1B shape: a
   * 400-token prefill after 2,600 cached tokens 7.3 → 6.1 s), and llama-server enables it by default.
   */
  flashAttention?: boolean | undefined;
  maxQueue: number;
  queueTimeoutMs: number;
  /** Where and how much KV state of evicted prefixes to keep (PrefixStore); absent or 0 bytes: none. */
  prefixCache?: { dir: string; maxBytes: number } | undefined;
  log: (message: string) => void;
}

/** Shortest prefix worth saving: below it, re-reading the tokens costs about what loading their state does on a GPU. */
const PREFIX_CACHE_MIN_TOKENS = 256;

export { ENGINE_BUILD_CMAKE_OPTIONS, defaultThreads } from "./loading.js";

/** The in-process engine: one model, one context, N sequences, one scheduler. */
export class LlamaEngine implements Engine {
  private constructor(
    readonly model: ModelDescriptor,
    private readonly llama: Llama,
    private readonly llamaModel: LlamaModel,
    private readonly context: LlamaContext,
    private readonly scheduler: Scheduler,
    private readonly prefixes: PrefixStore | null,
    private readonly specials: Llama3Specials,
  ) {
    this.grammars = new GrammarCache(llama);
    // End-of-generation tokens (Llama 3: <|end_of_text|>, <|eom_id|>, <|eot_id|>), for ignore_eos / min_tokens / logit_bias.
    this.eogTokens = [];
    const ggml = llamaModel.fileInfo.metadata.tokenizer?.ggml;
    const vocab = ggml?.tokens?.length ?? 0;
    for (let t = 0; t < vocab; t++) if (llamaModel.isEogToken(t as Token)) this.eogTokens.push(t);
    this.tokenBytes = new TokenBytes(ggml?.tokens ?? [], (ggml?.token_type ?? []) as number[]);
    let longest = 1;
    for (let t = 0; t < vocab; t++) longest = Math.max(longest, this.tokenBytes.uncached(t).length);
    this.maxTokenBytes = longest;
  }

  private readonly eogTokens: number[];
  private readonly tokenBytes: TokenBytes;
  private readonly grammars: GrammarCache;
  /** The longest token's bytes: a prompt of more than contextSize times this many bytes cannot fit. */
  private readonly maxTokenBytes: number;

  static async load(o: LlamaEngineOptions): Promise<LlamaEngine> {
    const started = Date.now();
    const llama = await openLlama(o);
    const threads = o.threads ?? defaultThreads(llama.cpuMathCores);
    llama.maxThreads = threads;
    const onGpu = llama.gpu !== false;
    if (!onGpu && o.gpu === "auto" && hasNvidiaGpu()) {
      const missing = missingCudaLibraries();
      o.log(
        `engine: an NVIDIA GPU is present but CUDA is not usable, running on the CPU. Missing: ${missing.join("; ") || "unknown (run: npx node-llama-cpp inspect gpu)"}`,
      );
    }
    const model = await llama.loadModel({ modelPath: o.modelPath, gpuLayers: onGpu ? "auto" : 0 });
    const trainContext = model.trainContextSize;
    const contextSize = Math.min(o.contextSize ?? trainContext, trainContext);
    const batchSize = o.batchSize ?? (onGpu ? 2048 : 256);
    const sequences = o.parallel ?? (onGpu ? await sequencesForVram(llama, model, contextSize, batchSize) : 4);
    const context = await model.createContext({
      sequences,
      contextSize,
      batchSize,
      threads,
      flashAttention: o.flashAttention ?? true,
      batching: { itemPrioritizationStrategy: decodeFirst },
    });
    const vram = onGpu ? await llama.getVramState() : null;
    const device = onGpu
      ? `${(await llama.getGpuDeviceNames()).join(", ")} (${gib(vram?.used ?? 0)} of ${gib(vram?.total ?? 0)} GiB VRAM in use)`
      : `CPU, ${threads} threads`;
    // "local build" = scripts/build-engine.mjs's addon with a persistent thread pool.
    const binary = llama.buildType === "localBuild" ? "local build" : "prebuilt binary";
    o.log(
      `engine: ${llama.gpu === false ? "cpu" : llama.gpu} backend (${binary}) on ${device}; ` +
        `${model.gpuLayers}/${model.fileInsights.totalLayers} layers offloaded; ` +
        `${sequences} sequences × ${context.contextSize} tokens; flash attention ${context.flashAttention ? "on" : "off"}; ` +
        `loaded in ${Date.now() - started} ms`,
    );
    const specials = llama3Specials(model);
    const pc = o.prefixCache;
    const prefixes =
      pc && pc.maxBytes > 0 ? new PrefixStore({ ...pc, minTokens: PREFIX_CACHE_MIN_TOKENS, log: o.log }) : null;
    const scheduler = new Scheduler(context, model, {
      maxQueue: o.maxQueue,
      queueTimeoutMs: o.queueTimeoutMs,
      // The local build frees each sampler's buffer when it is disposed.
      collectNativeGarbage: llama.buildType !== "localBuild",
      prefixes,
      longCacheTokens: PREFIX_CACHE_MIN_TOKENS,
    });
    const descriptor: ModelDescriptor = {
      id: o.id,
      aliases: o.aliases,
      contextLength: context.contextSize,
      file: path.basename(o.modelPath),
      quantization: quantizationName(model),
      demo: o.demo,
    };
    return new LlamaEngine(descriptor, llama, model, context, scheduler, prefixes, specials);
  }

  /** The token ids a message list renders to with the Llama 3 template (tests, benchmarks). */
  renderPrompt(messages: readonly ChatMessage[]): number[] {
    return renderLlama3Prompt(messages, (s) => this.llamaModel.tokenize(s, false), this.specials);
  }

  /** Synchronous tokenize, for code that holds this engine itself (tests, benchmarks). */
  tokenizeNow(text: string, special: boolean, addBos = false): number[] {
    const ids = this.llamaModel.tokenize(text, special);
    return addBos ? [this.specials.bos, ...ids] : ids;
  }

  detokenizeNow(tokens: readonly number[]): string {
    return this.tokenBytes.decode(tokens, { special: true });
  }

  async tokenize(text: string, special: boolean, addBos = false): Promise<number[]> {
    return this.tokenizeNow(text, special, addBos);
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    return this.detokenizeNow(tokens);
  }

  async modelInfo(): Promise<{ chatTemplate: string | null; bosToken: string; eosToken: string }> {
    return {
      chatTemplate: this.llamaModel.fileInfo.metadata.tokenizer?.chat_template ?? null,
      bosToken: this.detokenizeNow([this.specials.bos]),
      eosToken: this.detokenizeNow([this.specials.eot]),
    };
  }

  /**
   * Prompt → token ids: a chat through the template (tools in its system prompt), or text with
   * special tokens parsed and BOS added when missing (`addedBos` says so).
   */
  private promptTokens(p: PromptInput, tools: GenerationRequest["tools"]): { ids: number[]; addedBos: boolean } {
    this.checkPromptBytes(p);
    if (p.type === "chat")
      return { ids: this.renderPrompt(tools ? withToolInstructions(p.messages, tools) : p.messages), addedBos: false };
    if (p.type === "tokens") {
      const vocab = this.tokenBytes.size;
      const bad = p.tokens.find((t) => t >= vocab);
      if (bad !== undefined)
        throw new EngineError(
          "invalid_token",
          `Token id ${bad} is not in the model's vocabulary (${vocab} tokens).`,
          "prompt",
        );
    }
    const ids = p.type === "tokens" ? [...p.tokens] : this.llamaModel.tokenize(p.text, true);
    return ids[0] === this.specials.bos
      ? { ids, addedBos: false }
      : { ids: [this.specials.bos, ...ids], addedBos: true };
  }

  /**
   * Refuses, before tokenizing, a prompt too long to fit whatever its tokens: tokenizing runs on
   * the JS thread (4 MB of text: 0.6 s on a 2-core VM, every stream stalled meanwhile).
   */
  private checkPromptBytes(p: PromptInput): void {
    if (p.type === "tokens") return;
    const texts = p.type === "text" ? [p.text] : p.messages.map((m) => m.content);
    let bytes = 0;
    for (const t of texts) bytes += Buffer.byteLength(t);
    const atLeast = Math.ceil(bytes / this.maxTokenBytes);
    const limit = this.context.contextSize;
    if (atLeast > limit)
      throw contextOverflow(limit, atLeast, atLeast, p.type === "chat" ? "messages" : "prompt", true);
  }

  private utf8Vocabulary: Utf8Vocabulary | undefined;

  /** The vocabulary's UTF-8 table for grammar outputs (built on first use: a pass over every token). */
  private utf8(): Utf8Vocabulary {
    this.utf8Vocabulary ??= new Utf8Vocabulary(this.tokenBytes);
    return this.utf8Vocabulary;
  }

  private async outputMode(request: GenerationRequest, gbnf: string): Promise<OutputMode> {
    const grammar = await this.grammars.get(gbnf);
    if (request.tools) return { kind: "tools", grammar, utf8: this.utf8(), lazy: request.tools.choice.type === "auto" };
    return { kind: "json", grammar, utf8: this.utf8() };
  }

  /** logit_bias with the banned strings' tokens added as bans. */
  private withBannedStrings(sampling: GenerationRequest["sampling"]): GenerationRequest["sampling"] {
    if (!sampling.bannedStrings?.length) return sampling;
    const bias = new Map(sampling.logitBias ?? []);
    for (const text of sampling.bannedStrings)
      for (const id of this.llamaModel.tokenize(text, false)) bias.set(id, Number.NEGATIVE_INFINITY);
    return { ...sampling, logitBias: bias, bannedStrings: undefined };
  }

  // eslint-disable-next-line max-lines-per-function -- one closure over the request's channel and its start/early state; split, those would travel as eight parameters
  generate(request: GenerationRequest): AsyncIterable<GenerationEvent> {
    const { ids: prompt, addedBos } = this.promptTokens(request.prompt, request.tools);
    const gbnf = outputGrammar(request);
    const sampling = this.withBannedStrings(request.sampling);
    const limit = this.context.contextSize;
    const left = limit - prompt.length;
    if (request.maxTokens !== undefined ? request.maxTokens > left : left < 1) {
      throw contextOverflow(limit, prompt.length + (request.maxTokens ?? 1), prompt.length);
    }
    const abort = new AbortController();
    request.signal?.addEventListener("abort", () => abort.abort(), { once: true });
    const channel = new EventChannel<GenerationEvent>(() => abort.abort());
    let running = request.choices;
    // `start` comes first: choice 0 reports it, and the other choices' events wait for it.
    let started = false;
    const early: GenerationEvent[] = [];
    const emit = (ev: GenerationEvent) => (started ? channel.push(ev) : early.push(ev));
    const jobs = (output: OutputMode): ChoiceJob[] =>
      Array.from({ length: request.choices }, (_, i) => ({
        prompt: prompt as ChoiceJob["prompt"],
        maxTokens: request.maxTokens ?? left,
        limitedByContext: request.maxTokens === undefined,
        stopSequences: request.stopSequences,
        sampling: { ...sampling, seed: (sampling.seed + i) >>> 0 },
        output,
        logprobs: request.logprobs ? { top: request.logprobs.top, tokenBytes: this.tokenBytes } : undefined,
        eogTokens: this.eogTokens,
        tokenBytes: this.tokenBytes,
        signal: abort.signal,
        promptLogprobs: i === 0 && request.promptLogprobs === true,
        reproducible: request.reproducible === true,
        onAdmitted: (cachedTokens, promptLogprobs) => {
          if (i !== 0) return;
          let scored: PromptTokenLogprob[] | undefined;
          if (promptLogprobs) {
            const first = prompt[0] as number;
            const head = {
              token: first,
              text: this.tokenBytes.text(first),
              bytes: [...this.tokenBytes.bytes(first)],
              logprob: null,
              top: [],
            };
            scored = addedBos ? promptLogprobs : [head, ...promptLogprobs];
          }
          channel.push({ type: "start", promptTokens: prompt.length, cachedTokens, promptLogprobs: scored });
          started = true;
          for (const ev of early.splice(0)) channel.push(ev);
        },
        onText: (text, logprobs, tokens) => emit({ type: "text", choice: i, text, logprobs, tokens }),
        onToolCall: (index, id, name, tokens) => emit({ type: "toolCall", choice: i, index, id, name, tokens }),
        onToolArguments: (index, text, tokens) => emit({ type: "toolArguments", choice: i, index, text, tokens }),
        onEnd: (reason, completionTokens) => {
          emit({ type: "end", choice: i, reason, completionTokens });
          if (--running === 0) channel.end();
        },
        onError: (error) => {
          abort.abort();
          channel.end(error);
        },
      }));
    if (gbnf === null) {
      this.scheduler.submit(jobs({ kind: "text" }));
      return channel;
    }
    // Grammars compile asynchronously; errors still arrive before the first event.
    this.outputMode(request, gbnf).then(
      (output) => {
        try {
          if (abort.signal.aborted) channel.end();
          else this.scheduler.submit(jobs(output));
        } catch (e) {
          channel.end(e);
        }
      },
      (e: unknown) => channel.end(e),
    );
    return channel;
  }

  /** CPU threads each decode runs on. */
  get threads(): number {
    return this.context.idealThreads;
  }

  stats(): EngineStats {
    const stored = this.prefixes?.stats();
    return {
      queueDepth: this.scheduler.queueDepth,
      activeSequences: this.scheduler.activeCount,
      totalSequences: this.scheduler.sequenceCount,
      storedPrefixes: stored?.entries ?? 0,
      storedPrefixBytes: stored?.bytes ?? 0,
    };
  }

  async close(): Promise<void> {
    await this.scheduler.close();
    this.prefixes?.close();
    await this.context.dispose();
    await this.llamaModel.dispose();
    await this.llama.dispose();
  }
}
