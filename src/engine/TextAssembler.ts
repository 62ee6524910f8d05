/**
 * Turns generated tokens into text deltas: waits for complete UTF-8 characters, cuts stop
 * sequences (also when they span tokens) and holds back any tail that could still become
 * one, so a stop sequence never leaks into a streamed delta.
 */
export class TextAssembler {
  private pendingTokens: number[] = [];
  /** Text decoded but not yet released, because it may be the start of a stop sequence. */
  private held = "";
  private stopped = false;

  constructor(
    /** Context-free: a run of tokens' text depends on those tokens alone (their bytes joined). */
    private readonly detokenize: (tokens: number[]) => string,
    private readonly stopSequences: readonly string[],
  ) {}

  get hitStop(): boolean {
    return this.stopped;
  }

  /** Feeds one token; returns the text that can be released now. */
  push(token: number): string {
    if (this.stopped) return "";
    this.pendingTokens.push(token);
    const text = this.detokenize(this.pendingTokens);
    // A token that ends inside a multi-byte character decodes to U+FFFD; wait for the rest
    // (a UTF-8 character spans at most 4 byte tokens).
    if (text.endsWith("\uFFFD") && this.pendingTokens.length < 4) return "";
    this.pendingTokens = [];
    return this.release(this.held + text);
  }

  /** Feeds text already decoded (an upstream engine's), with the same stop handling. */
  pushText(text: string): string {
    if (this.stopped) return "";
    return this.release(this.held + text);
  }

  /** Releases whatever is still held at the end of generation. */
  flush(): string {
    if (this.stopped) return "";
    let text = this.held;
    if (this.pendingTokens.length > 0) text += this.detokenize(this.pendingTokens);
    this.pendingTokens = [];
    this.held = "";
    return this.release(text, true);
  }

  private release(text: string, final = false): string {
    let cut = -1;
    for (const stop of this.stopSequences) {
      const at = text.indexOf(stop);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut !== -1) {
      this.stopped = true;
      this.held = "";
      return text.slice(0, cut);
    }
    const keep = final ? 0 : this.partialStopLength(text);
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** Length of the longest suffix of `text` that is a proper prefix of a stop sequence. */
  private partialStopLength(text: string): number {
    let best = 0;
    for (const stop of this.stopSequences) {
      for (let n = Math.min(stop.length - 1, text.length); n > best; n--) {
        if (text.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
