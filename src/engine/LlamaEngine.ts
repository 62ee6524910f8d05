import os from "node:os";
import path from "node:path";
import { type Llama, type LlamaContext, type LlamaModel, type Token, getLlama } from "node-llama-cpp";
import { type Llama3Specials, renderLlama3Prompt } from "./chatPrompt.js";
import { contextOverflow } from "./errors.js";
import { EventChannel } from "./EventChannel.js";
import type { ChoiceJob } from "./Generation.js";
import { Scheduler } from "./Scheduler.js";
import type { ChatMessage, Engine, EngineStats, GenerationEvent, GenerationRequest, ModelDescriptor, PromptInput } from "./types.js";

export type GpuChoice = "auto" | "cuda" | "vulkan" | "off";

export interface LlamaEngineOptions {
  modelPath: string;
  /** Served id and aliases; the file name is filled in here. */
  id: string;
  aliases: readonly string[];
  demo: boolean;
  gpu: GpuChoice;
  /** CPU threads; default: the machine's cores (llama.cpp's own default of 4 oversubscribes small VMs). */
  threads?: number | undefined;
  /** Parallel sequences (slots); default 4 on CPU (only 4-wide batches pay off there), 16 on GPU. */
  parallel?: number | undefined;
  /** Context per sequence, in tokens; default: the model's training context. */
  contextSize?: number | undefined;
  /** Tokens per llama_decode; also the prefill chunk that running streams wait behind. */
  batchSize?: number | undefined;
  maxQueue: number;
  queueTimeoutMs: number;
  log: (message: string) => void;
}

/** The machine's cores, never more: llama.cpp's default (4) makes a 2-core VM 25× slower. */
export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism());
}

/** The in-process engine: one model, one context, N sequences, one scheduler. */
export class LlamaEngine implements Engine {
  private constructor(
    readonly model: ModelDescriptor,
    private readonly llama: Llama,
    private readonly llamaModel: LlamaModel,
    private readonly context: LlamaContext,
    private readonly scheduler: Scheduler,
    private readonly specials: Llama3Specials,
  ) {
    // End-of-generation tokens (Llama 3: <|end_of_text|>, <|eom_id|>, <|eot_id|>), for ignore_eos / min_tokens / logit_bias.
    this.eogTokens = [];
    const vocab = llamaModel.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0;
    for (let t = 0; t < vocab; t++) if (llamaModel.isEogToken(t as Token)) this.eogTokens.push(t);
  }

  private readonly eogTokens: number[];

  static async load(o: LlamaEngineOptions): Promise<LlamaEngine> {
    const threads = o.threads ?? defaultThreads();
    const started = Date.now();
    const llama = await getLlama({
      gpu: o.gpu === "off" ? false : o.gpu,
      build: "never", // never compile at runtime: prebuilt or a build made by `lunaris` beforehand
      maxThreads: threads,
      logLevel: "error" as never,
    });
    const onGpu = llama.gpu !== false;
    const model = await llama.loadModel({ modelPath: o.modelPath, gpuLayers: onGpu ? "auto" : 0 });
    const trainContext = model.trainContextSize;
    const contextSize = Math.min(o.contextSize ?? trainContext, trainContext);
    const sequences = o.parallel ?? (onGpu ? 16 : 4);
    const context = await model.createContext({
      sequences,
      contextSize,
      batchSize: o.batchSize ?? (onGpu ? 2048 : 256),
      threads,
      flashAttention: onGpu,
    });
    const device = onGpu ? (await llama.getGpuDeviceNames()).join(", ") : `CPU, ${threads} threads`;
    o.log(
      `engine: ${llama.gpu === false ? "cpu" : llama.gpu} backend on ${device}; ` +
        `${model.gpuLayers}/${model.fileInsights.totalLayers} layers offloaded; ` +
        `${sequences} sequences × ${context.contextSize} tokens; loaded in ${Date.now() - started} ms`,
    );
    const t = model.tokens;
    const tok = (s: string): number => {
      const ids = model.tokenize(s, true);
      if (ids.length !== 1 || ids[0] === undefined) throw new Error(`the model has no ${s} token: not a Llama 3 model`);
      return ids[0];
    };
    const specials: Llama3Specials = {
      bos: t.bos ?? tok("<|begin_of_text|>"),
      startHeader: tok("<|start_header_id|>"),
      endHeader: tok("<|end_header_id|>"),
      eot: tok("<|eot_id|>"),
    };
    const scheduler = new Scheduler(context, model, { maxQueue: o.maxQueue, queueTimeoutMs: o.queueTimeoutMs });
    const descriptor: ModelDescriptor = {
      id: o.id,
      aliases: o.aliases,
      contextLength: context.contextSize,
      file: path.basename(o.modelPath),
      quantization: quantizationName(model),
      demo: o.demo,
    };
    return new LlamaEngine(descriptor, llama, model, context, scheduler, specials);
  }

  renderPrompt(messages: readonly ChatMessage[]): number[] {
    return renderLlama3Prompt(messages, (s) => this.llamaModel.tokenize(s, false), this.specials);
  }

  tokenize(text: string, special: boolean): number[] {
    return this.llamaModel.tokenize(text, special);
  }

  detokenize(tokens: readonly number[]): string {
    return this.llamaModel.detokenize(tokens as Token[], true);
  }

  modelInfo(): { chatTemplate: string | null; bosToken: string; eosToken: string } {
    return {
      chatTemplate: this.llamaModel.fileInfo.metadata.tokenizer?.chat_template ?? null,
      bosToken: this.detokenize([this.specials.bos]),
      eosToken: this.detokenize([this.specials.eot]),
    };
  }

  /** Prompt → token ids: a chat through the template, or text with special tokens parsed and BOS added when missing. */
  private promptTokens(p: PromptInput): number[] {
    if (p.type === "chat") return this.renderPrompt(p.messages);
    const ids = this.llamaModel.tokenize(p.text, true);
    return ids[0] === this.specials.bos ? ids : [this.specials.bos, ...ids];
  }

  generate(request: GenerationRequest): AsyncIterable<GenerationEvent> {
    const prompt = this.promptTokens(request.prompt);
    const limit = this.context.contextSize;
    const left = limit - prompt.length;
    if (request.maxTokens !== undefined ? request.maxTokens > left : left < 1) {
      throw contextOverflow(limit, prompt.length + (request.maxTokens ?? 1), prompt.length);
    }
    const abort = new AbortController();
    request.signal?.addEventListener("abort", () => abort.abort(), { once: true });
    const channel = new EventChannel<GenerationEvent>(() => abort.abort());
    let running = request.choices;
    const jobs: ChoiceJob[] = [];
    for (let i = 0; i < request.choices; i++) {
      jobs.push({
        prompt: prompt as ChoiceJob["prompt"],
        maxTokens: request.maxTokens ?? left,
        limitedByContext: request.maxTokens === undefined,
        stopSequences: request.stopSequences,
        sampling: { ...request.sampling, seed: (request.sampling.seed + i) >>> 0 },
        eogTokens: this.eogTokens,
        signal: abort.signal,
        onAdmitted: (cachedTokens) => {
          if (i === 0) channel.push({ type: "start", promptTokens: prompt.length, cachedTokens });
        },
        onText: (text) => channel.push({ type: "text", choice: i, text }),
        onEnd: (reason, completionTokens) => {
          channel.push({ type: "end", choice: i, reason, completionTokens });
          if (--running === 0) channel.end();
        },
        onError: (error) => {
          abort.abort();
          channel.end(error);
        },
      });
    }
    this.scheduler.submit(jobs);
    return channel;
  }

  stats(): EngineStats {
    return {
      queueDepth: this.scheduler.queueDepth,
      activeSequences: this.scheduler.activeCount,
      totalSequences: this.scheduler.sequenceCount,
    };
  }

  async close(): Promise<void> {
    await this.scheduler.close();
    await this.context.dispose();
    await this.llamaModel.dispose();
    await this.llama.dispose();
  }
}

function quantizationName(model: LlamaModel): string {
  const ft = model.fileInfo.metadata.general.file_type;
  const names: Record<number, string> = { 0: "F32", 1: "F16", 2: "Q4_0", 7: "Q8_0", 15: "Q4_K_M", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16" };
  return ft === undefined ? "unknown" : (names[ft] ?? `file_type ${ft}`);
}
