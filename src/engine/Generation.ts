import type { LlamaContextSequence, LlamaModel, SequenceEvaluateOptions, Token } from "node-llama-cpp";
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
      options.repeatPenalty = {
        punishTokens: () => this.generated,
        maxPunishTokens: Math.max(64, this.job.maxTokens),
        penalty: s.repetitionPenalty,
        frequencyPenalty: s.frequencyPenalty,
        presencePenalty: s.presencePenalty,
      };
    }
    this.iterator = this.sequence.evaluate(prompt.slice(cached), options);
    return this.iterator;
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
