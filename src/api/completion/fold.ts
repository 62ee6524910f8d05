import type { GenerationEvent } from "../../engine/types.js";
import type { FinishReason } from "../protocol/chatCompletionResponse.js";
import { toFinishReason } from "../translate/toChatCompletion.js";
import type { ChoiceState, CompletionFormat, CompletionOutcome, StartEvent } from "./outcome.js";

/** What an event asks the response to send: a chunk, and whether a choice just finished. */
export interface Emission {
  chunk: unknown;
  /** Set when this event finished choice `choice`. */
  finish?: { choice: number; reason: FinishReason };
}

/**
 * Folds a generation's events into the state of its choices, and says what each event sends.
 * No I/O: the clock is injected, so the fold is unit-tested on scripted events.
 */
export class CompletionFold {
  readonly choices: ChoiceState[];
  /** A remote engine may report the prompt's counts only with `end`. */
  private prompt: number;
  private cached: number;
  private firstAt: number | null = null;
  private lastAt = 0;
  /** Gaps between content events, ms. */
  readonly gaps: number[] = [];

  constructor(
    start: StartEvent,
    choices: number,
    logprobs: boolean,
    private readonly format: CompletionFormat,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.prompt = start.promptTokens ?? 0;
    this.cached = start.cachedTokens ?? 0;
    this.choices = Array.from({ length: choices }, () => ({
      text: "",
      finishReason: null,
      completionTokens: 0,
      toolCalls: [],
      logprobs: logprobs ? [] : null,
    }));
  }

  /** When the first content came (the clock's time), null until it does. */
  get firstContentAt(): number | null {
    return this.firstAt;
  }

  outcome(): CompletionOutcome {
    return {
      promptTokens: this.prompt,
      cachedTokens: this.cached,
      completionTokens: this.choices.reduce((a, ch) => a + ch.completionTokens, 0),
      finishReason: this.choices.map((ch) => ch.finishReason ?? "aborted").join(","),
    };
  }

  private tick(): void {
    const now = this.clock();
    if (this.firstAt === null) this.firstAt = now;
    else this.gaps.push(now - this.lastAt);
    this.lastAt = now;
  }

  /** Applies one event; returns what to send, or null when it sends nothing. */
  apply(ev: GenerationEvent): Emission | null {
    if (ev.type === "start") return null;
    const ch = this.choices[ev.choice];
    if (!ch) return null;
    // Generated-so-far counts bill a reply that is cut short (an upstream that died mid-stream).
    if (ev.type !== "end" && ev.tokens !== undefined) ch.completionTokens = ev.tokens;
    switch (ev.type) {
      case "text":
        this.tick();
        ch.text += ev.text;
        if (ev.logprobs) ch.logprobs?.push(...ev.logprobs);
        return ev.text !== "" || (ev.logprobs?.length ?? 0) > 0
          ? { chunk: this.format.content(ev.choice, ev.text, ev.logprobs) }
          : null;
      case "toolCall":
        this.tick();
        ch.toolCalls[ev.index] = { id: ev.id, name: ev.name, arguments: "" };
        return { chunk: this.format.toolCall?.(ev.choice, ev.index, ev.id, ev.name) };
      case "toolArguments": {
        this.tick();
        const call = ch.toolCalls[ev.index];
        if (call) call.arguments += ev.text;
        return { chunk: this.format.toolArguments?.(ev.choice, ev.index, ev.text) };
      }
      case "end":
        if (ev.promptTokens !== undefined) this.prompt = ev.promptTokens;
        if (ev.cachedTokens !== undefined) this.cached = ev.cachedTokens;
        if (ev.reason === "aborted") return null;
        ch.completionTokens = ev.completionTokens;
        ch.finishReason = toFinishReason(ev.reason);
        return { chunk: null, finish: { choice: ev.choice, reason: ch.finishReason } };
      default:
        return ev satisfies never;
    }
  }
}
