import { type LlamaContextSequence, type LlamaModel, type SequenceEvaluateOptions, type Token, TokenBias } from "node-llama-cpp";
import { TextAssembler } from "./TextAssembler.js";
import type { SamplingOptions, StopReason } from "./types.js";

/** What one choice of a request asks the scheduler for. */
export interface ChoiceJob {
  prompt: Token[];
  maxTokens: number;
  /** True when maxTokens was cut to what is left of the context (finish → "contextFull"). */
  limitedByContext: boolean;
  stopSequences: readonly string[];
  sampling: SamplingOptions;
  /** The model's end-of-generation token ids. */
  eogTokens: readonly number[];
  signal: AbortSignal;
  onAdmitted(cachedTokens: number): void;
  onText(text: string): void;
  onEnd(reason: StopReason, completionTokens: number): void;
  onError(error: unknown): void;
}

export function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Neutral penalty values: the penalties sampler is skipped entirely when all are neutral. */
function penaltiesActive(s: SamplingOptions): boolean {
  return s.presencePenalty !== 0 || s.frequencyPenalty !== 0 || s.repetitionPenalty !== 1;
}

/**
 * One choice running on one sequence: prefix reuse, then `seq.evaluate` driven one token per
 * `step()` by the scheduler's lock-step loop.
 */
export class Generation {
  private iterator: AsyncGenerator<Token, void, void | Token | Token[]> | null = null;
  private readonly generated: Token[] = [];
  private readonly text: TextAssembler;
  /** "prefill" until the first token arrives: the scheduler does not wait on prefills. */
  phase: "prefill" | "decode" = "prefill";
  inflight: Promise<void> | null = null;
  finished = false;
  readonly startedAt = Date.now();

  constructor(
    readonly job: ChoiceJob,
    readonly sequence: LlamaContextSequence,
    private readonly model: LlamaModel,
  ) {
    this.text = new TextAssembler(
      (tokens, last) => model.detokenize(tokens as Token[], false, last as Token[]),
      job.stopSequences,
    );
  }

  /** Advances by one token (the first call reuses the cached prefix and prefills the rest). */
  async step(): Promise<void> {
    const it = this.iterator ?? (await this.start());
    const r = await it.next();
    if (this.finished) return;
    if (r.done) return this.finish("endOfGeneration");
    const token = r.value;
    this.phase = "decode";
    this.generated.push(token);
    if (this.model.isEogToken(token)) return this.finish("endOfGeneration");
    const delta = this.text.push(token);
    if (delta !== "") this.job.onText(delta);
    if (this.text.hitStop) return this.finish("stopSequence");
    if (this.generated.length >= this.job.maxTokens) {
      return this.finish(this.job.limitedByContext ? "contextFull" : "maxTokens");
    }
  }

  private async start(): Promise<AsyncGenerator<Token, void, void | Token | Token[]>> {
    const { prompt, sampling: s } = this.job;
    // Keep at least the last prompt token to evaluate: logits are not part of the cached state.
    const cached = Math.min(commonPrefixLength(this.sequence.contextTokens, prompt), prompt.length - 1);
    if (this.sequence.nextTokenIndex > cached) {
      await this.sequence.eraseContextTokenRanges([{ start: cached, end: this.sequence.nextTokenIndex }]);
    }
    this.job.onAdmitted(cached);
    const options: SequenceEvaluateOptions = {
      temperature: s.temperature,
      topP: s.topP,
      topK: s.topK,
      minP: s.minP,
      seed: s.seed,
      yieldEogToken: true,
    };
    if (penaltiesActive(s)) {
      const window = s.penaltyLastN;
      options.repeatPenalty = {
        punishTokens: () => (window === undefined ? this.generated : window <= 0 ? [] : this.generated.slice(-window)),
        maxPunishTokens: Math.max(64, this.job.maxTokens),
        penalty: s.repetitionPenalty,
        frequencyPenalty: s.frequencyPenalty,
        presencePenalty: s.presencePenalty,
      };
    }
    if (s.xtc) options.xtc = { ...s.xtc };
    if (s.dry && s.dry.multiplier > 0) {
      options.dryRepeatPenalty = {
        strength: s.dry.multiplier,
        base: s.dry.base,
        allowedLength: s.dry.allowedLength,
        // "Whole history" as null/-1 disables DRY in this node-llama-cpp build (measured: no
        // effect at all); the sequence's own length bound says the same thing and works.
        lastTokens: s.dry.lastN ?? prompt.length + this.job.maxTokens,
        sequenceBreakers: [...s.dry.sequenceBreakers],
      };
    }
    const bias = this.tokenBias();
    if (bias) options.tokenBias = bias;
    this.iterator = this.sequence.evaluate(prompt.slice(cached), options);
    return this.iterator;
  }

  /**
   * logit_bias, banned tokens, ignore_eos and min_tokens as a per-token bias function.
   * `TokenBias.set()` silently skips end-of-generation tokens, so biases go into its map
   * directly (ENGINE-NOTES §1b): that is the only way to ban or boost <|eot_id|>.
   */
  private tokenBias(): (() => TokenBias) | null {
    const s = this.job.sampling;
    const suppressEog = s.ignoreEos === true || (s.minTokens ?? 0) > 0;
    if (!suppressEog && (s.logitBias?.size ?? 0) === 0) return null;
    const make = (withoutEog: boolean) => {
      const b = new TokenBias(this.model.tokenizer);
      const map = (b as unknown as { _biases: Map<Token, number> })._biases;
      for (const [token, logit] of s.logitBias ?? []) map.set(token as Token, logit);
      if (withoutEog) for (const t of this.job.eogTokens) map.set(t as Token, Number.NEGATIVE_INFINITY);
      return b;
    };
    const normal = make(false);
    const noEog = make(true);
    return () => (s.ignoreEos === true || this.generated.length < (s.minTokens ?? 0) ? noEog : normal);
  }

  /** Ends the choice: releases held text, reports, and stops the engine's generator. */
  async finish(reason: StopReason): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    if (reason !== "aborted") {
      const rest = this.text.flush();
      if (rest !== "") this.job.onText(rest);
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
