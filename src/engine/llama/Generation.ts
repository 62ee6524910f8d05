import { randomBytes } from "node:crypto";
import {
  type ControlledEvaluateInputItem,
  type LlamaContextSequence,
  type LlamaGrammar,
  LlamaGrammarEvaluationState,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { ALIGNED_CHUNK, alignedPrefix, reusablePrefix, setAlignedPrefix } from "./alignment.js";
import type { PrefixStore } from "./PrefixStore.js";
import { describeLogprob } from "./logprobs.js";
import { samplerOptions, tokenBiasFor } from "./samplerOptions.js";
import { TextAssembler } from "../TextAssembler.js";
import { type Utf8Vocabulary, Utf8Guard } from "../grammar/utf8Guard.js";
import type { TokenBytes } from "../tokenBytes.js";
import { ToolCallStream } from "../tools/ToolCallStream.js";
import type { SamplingOptions, StopReason, TokenLogprob } from "../types.js";

/**
 * How a choice's output is read: plain text; text under a grammar (JSON); tool calls under a
 * grammar from the first token; or `auto` tools, where the reply is free text unless it
 * opens with "{", in which case it is re-sampled from the start under the tool grammar (a
 * lazy grammar: free replies cost nothing extra, calls always parse).
 */
export type OutputMode =
  | { kind: "text" }
  | { kind: "json"; grammar: LlamaGrammar; utf8: Utf8Vocabulary }
  | { kind: "tools"; grammar: LlamaGrammar; utf8: Utf8Vocabulary; lazy: boolean };

/** What one choice of a request asks the scheduler for. */
export interface ChoiceJob {
  prompt: Token[];
  maxTokens: number;
  /** True when maxTokens was cut to what is left of the context (finish → "contextFull"). */
  limitedByContext: boolean;
  stopSequences: readonly string[];
  sampling: SamplingOptions;
  output: OutputMode;
  /** Log-probabilities with this many alternatives; needs `tokenBytes`. */
  logprobs?: { top: number; tokenBytes: TokenBytes } | undefined;
  /** Also score the prompt's tokens (reported through onAdmitted). */
  promptLogprobs?: boolean | undefined;
  /**
   * Read the prompt in chunks aligned to ALIGNED_CHUNK positions and reuse a cached prefix only
   * up to a chunk boundary read that same way, so a cached prompt gives the same numbers as a
   * fresh one (the client chose the seed: it expects the same text again).
   */
  reproducible?: boolean | undefined;
  /** The model's end-of-generation token ids. */
  eogTokens: readonly number[];
  /** Token bytes, which the reply's text is built from. */
  tokenBytes: TokenBytes;
  signal: AbortSignal;
  onAdmitted(cachedTokens: number, promptLogprobs: TokenLogprob[] | undefined): void;
  /** `generated`: completion tokens so far (what a reply cut short bills). */
  onText(text: string, logprobs: TokenLogprob[] | undefined, generated: number): void;
  onToolCall(index: number, id: string, name: string, generated: number): void;
  onToolArguments(index: number, text: string, generated: number): void;
  onEnd(reason: StopReason, completionTokens: number): void;
  onError(error: unknown): void;
}

type Sampled = { token: Token; probabilities?: Map<Token, number>; confidence?: number };
type Evaluation = AsyncGenerator<Sampled, void, void | Token | Token[]>;

/**
 * One choice running on one sequence: prefix reuse, then `seq.evaluate` driven one token per
 * `step()` by the scheduler's lock-step loop.
 */
export class Generation {
  private iterator: Evaluation | null = null;
  /** The prompt tokens not read yet, once prepare() ran and until the generator starts. */
  private unread: Token[] | null = null;
  private readonly generated: Token[] = [];
  private text: TextAssembler;
  /** "pending": an `auto` tools reply whose first character is not known yet. */
  private mode: "text" | "tools" | "pending";
  private grammar: LlamaGrammar | null;
  private calls: ToolCallStream | null = null;
  private heldText = "";
  private pendingLogprobs: TokenLogprob[] = [];
  private admitted = false;
  inflight: Promise<void> | null = null;
  finished = false;
  readonly startedAt = Date.now();

  constructor(
    readonly job: ChoiceJob,
    readonly sequence: LlamaContextSequence,
    private readonly model: LlamaModel,
    private readonly prefixes: PrefixStore | null = null,
  ) {
    const out = job.output;
    this.mode = out.kind === "tools" ? (out.lazy ? "pending" : "tools") : "text";
    this.grammar = out.kind === "json" || (out.kind === "tools" && !out.lazy) ? out.grammar : null;
    if (this.mode === "tools") this.calls = new ToolCallStream();
    this.text = this.assembler();
  }

  /** Stop sequences cut text replies; tool calls are read whole. */
  private assembler(): TextAssembler {
    return new TextAssembler(
      (tokens) => this.job.tokenBytes.decode(tokens),
      this.mode === "tools" ? [] : this.job.stopSequences,
    );
  }

  /**
   * Prompt tokens still to read before the first output token (0 once it decodes): the part of
   * the prompt not in the sequence's cache, or all of it when the prompt is scored.
   */
  get unreadPromptTokens(): number {
    if (this.iterator) return 0;
    if (this.unread) return this.unread.length;
    return this.scoring ? this.job.prompt.length : this.job.prompt.length - this.reusableTokens();
  }

  /**
   * The prompt tokens this choice reads in a step that leaves it `budget` of the batch: up to the
   * budget; a reproducible choice reads one whole aligned chunk or waits for a step with room.
   */
  promptChunk(budget: number): number {
    const unread = this.unreadPromptTokens;
    if (!this.job.reproducible) return Math.min(unread, budget);
    const chunk = Math.min(unread, ALIGNED_CHUNK);
    return chunk <= budget ? chunk : 0;
  }

  /**
   * One scheduler step: reads the next `promptBudget` tokens of a prompt longer than that, or
   * else produces one token (reading what is left of the prompt first). The first step reuses
   * the cached prefix. The scheduler sizes the budget so that every generating sequence's token
   * and the prompt chunks of one step fit one batch.
   */
  async step(promptBudget = Number.POSITIVE_INFINITY): Promise<void> {
    if (!this.iterator) {
      this.unread ??= await this.prepare();
      const limit = this.job.reproducible ? Math.min(ALIGNED_CHUNK, promptBudget) : promptBudget;
      if (this.unread.length > limit) {
        await this.sequence.evaluateWithoutGeneratingNewTokens(this.unread.splice(0, limit));
        return;
      }
      this.iterator = this.open(this.unread);
      this.unread = null;
    }
    const r = await this.iterator.next();
    if (this.finished) return;
    if (r.done) return this.finish(this.endReason());
    const { token } = r.value;
    this.generated.push(token);
    if (this.model.isEogToken(token)) return this.finish(this.endReason());
    if (this.job.logprobs && this.mode !== "tools") {
      const v = r.value;
      this.pendingLogprobs.push(
        describeLogprob(
          v.token,
          v.probabilities,
          v.probabilities?.get(v.token) ?? v.confidence ?? 0,
          this.job.logprobs,
        ),
      );
    }
    const delta = this.text.push(token);
    if (this.text.hitStop) this.dropLogprobsAfter(delta.length);
    if (this.mode === "pending") await this.decide(delta);
    else this.emit(delta);
    if (this.text.hitStop) return this.finish("stopSequence");
    if (this.generated.length >= this.job.maxTokens) {
      return this.finish(this.job.limitedByContext ? "contextFull" : "maxTokens");
    }
  }

  /** A stop sequence cut the text `kept` characters into the unreleased part: tokens that start after the cut are not output. */
  private dropLogprobsAfter(kept: number): void {
    let at = 0;
    const keep = this.pendingLogprobs.findIndex((e) => {
      const starts = at;
      at += e.text.length;
      return starts >= kept;
    });
    if (keep !== -1) this.pendingLogprobs.length = keep;
  }

  private endReason(): StopReason {
    return this.calls && this.calls.callCount > 0 ? "toolCalls" : "endOfGeneration";
  }

  private emit(delta: string): void {
    if (delta === "") return;
    if (this.calls) {
      for (const e of this.calls.push(delta)) {
        if (e.type === "call")
          this.job.onToolCall(e.index, `call_${randomBytes(12).toString("base64url")}`, e.name, this.generated.length);
        else this.job.onToolArguments(e.index, e.text, this.generated.length);
      }
      return;
    }
    this.job.onText(delta, this.job.logprobs ? this.pendingLogprobs.splice(0) : undefined, this.generated.length);
  }

  /** `auto` tools: the first non-blank character decides between a text reply and calls. */
  private async decide(delta: string): Promise<void> {
    this.heldText += delta;
    const head = this.heldText.trimStart();
    if (head === "") return;
    const out = this.job.output;
    if (head.startsWith("{") && out.kind === "tools") {
      // Re-sample from the reply's start under the tool grammar.
      await this.iterator?.return();
      this.iterator = null;
      this.generated.length = 0;
      this.pendingLogprobs = [];
      this.mode = "tools";
      this.grammar = out.grammar;
      this.calls = new ToolCallStream();
      this.text = this.assembler();
      return;
    }
    this.mode = "text";
    const held = this.heldText;
    this.heldText = "";
    this.emit(held);
  }

  /**
   * Scores every prompt token after the first: evaluates the whole prompt (no cache reuse,
   * since cached positions have no logits) asking for the distribution at each position.
   * It is read within one scheduler step (the streams beside it get one token meanwhile): a
   * rare request shape, not worth chunking.
   * Greedy settings make those distributions the model's plain softmax.
   */
  private async scorePrompt(prompt: Token[], want: { top: number; tokenBytes: TokenBytes }): Promise<TokenLogprob[]> {
    const body = prompt.slice(0, -1);
    const input: ControlledEvaluateInputItem[] = body.map((t) => [
      t,
      { generateNext: { probabilities: true, options: { temperature: 0 } } },
    ]);
    const results = await this.sequence.controlledEvaluate(input);
    return body.map((_, i) => {
      const actual = prompt[i + 1] as Token;
      const probs = results[i]?.next?.probabilities;
      return describeLogprob(actual, probs, probs?.get(actual) ?? 0, want);
    });
  }

  private get scoring(): boolean {
    return !this.admitted && this.job.promptLogprobs === true && this.job.logprobs !== undefined;
  }

  private reusableTokens(): number {
    return reusablePrefix(
      this.sequence.contextTokens,
      this.job.prompt,
      this.job.reproducible ? alignedPrefix(this.sequence) : null,
    );
  }

  /** Drops the cache past the shared prefix, reports admission; returns the prompt tokens left to read. */
  private async prepare(): Promise<Token[]> {
    const { prompt } = this.job;
    const scoring = this.scoring;
    if (!this.admitted && !scoring) await this.prefixes?.prepare(this.sequence, prompt);
    const cached = scoring ? 0 : this.reusableTokens();
    if (this.sequence.nextTokenIndex > cached) {
      await this.sequence.eraseContextTokenRanges([{ start: cached, end: this.sequence.nextTokenIndex }]);
    }
    // What stays of the cache keeps its alignment; a reproducible read adds its whole chunks.
    const kept = Math.min(alignedPrefix(this.sequence), cached);
    const readAligned = this.job.reproducible && !scoring;
    setAlignedPrefix(this.sequence, readAligned ? prompt.length : kept);
    let evaluateFrom = cached;
    if (!this.admitted) {
      this.admitted = true;
      let promptLogprobs: TokenLogprob[] | undefined;
      if (scoring && this.job.logprobs) {
        promptLogprobs = await this.scorePrompt(prompt, this.job.logprobs);
        evaluateFrom = prompt.length - 1;
      }
      this.job.onAdmitted(cached, promptLogprobs);
    }
    return prompt.slice(evaluateFrom);
  }

  /** Starts the engine's generator on the last part of the prompt, with this choice's sampling. */
  private open(tokens: Token[]): Evaluation {
    const { prompt, sampling: s } = this.job;
    const options = samplerOptions(s, {
      punishable: () => this.generated,
      maxPunishTokens: Math.max(64, this.job.maxTokens),
      dryWindow: Math.min(s.dry?.lastN ?? prompt.length + this.job.maxTokens, this.sequence.contextSize),
    });
    let guard: Utf8Guard | null = null;
    const out = this.job.output;
    if (this.grammar && out.kind !== "text") {
      const state = new LlamaGrammarEvaluationState({ model: this.model, grammar: this.grammar });
      options.grammarEvaluationState = state;
      guard = new Utf8Guard(out.utf8);
    }
    const bias = tokenBiasFor(this.model, s, {
      grammar: this.grammar !== null,
      guard,
      eogTokens: this.job.eogTokens,
      generated: () => this.generated,
    });
    if (bias) options.tokenBias = bias;
    // Probabilities cost a full-vocabulary copy per token (~70 ms on the tiny model); the
    // sampled token's own probability ("confidence") is a C++ sort. Ask only for what is needed.
    const lp = this.mode === "tools" ? undefined : this.job.logprobs;
    const metadata = { probabilities: lp !== undefined && lp.top > 0, confidence: lp !== undefined && lp.top === 0 };
    return this.sequence.evaluateWithMetadata(tokens, metadata, options) as Evaluation;
  }

  /** Ends the choice: releases held text, reports, and stops the engine's generator. */
  async finish(reason: StopReason): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    if (reason !== "aborted") {
      const rest = this.heldText + this.text.flush();
      this.heldText = "";
      if (rest !== "" || this.pendingLogprobs.length > 0) {
        if (this.calls) this.emit(rest);
        else
          this.job.onText(rest, this.job.logprobs ? this.pendingLogprobs.splice(0) : undefined, this.generated.length);
      }
    }
    this.job.onEnd(reason, this.generated.length);
    await this.iterator?.return();
  }

  async fail(error: unknown): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.job.onError(error);
    await this.iterator?.return().catch(() => undefined);
  }
}
