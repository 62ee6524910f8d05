/** What the reader found in a new piece of a tool-call reply. */
export type ToolCallEvent =
  | { type: "call"; index: number; name: string }
  | { type: "arguments"; index: number; text: string };

interface Value {
  owner: "name" | "arguments" | "other";
  start: number;
  end: number | null;
}

/**
 * Reads a reply of tool calls (`{"name": …, "parameters": {…}}` objects one after another)
 * as it streams: each call's name is reported as soon as it is complete, then the raw JSON
 * text of its arguments piece by piece, like OpenAI's streamed tool-call deltas. The
 * fragments join to exactly the generated arguments text.
 */
export class ToolCallStream {
  private buf = "";
  private pos = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private index = -1;
  private expect: "key" | "colon" | "value" | "afterValue" = "key";
  private key = "";
  private keyStart = 0;
  private value: Value | null = null;
  private named = false;
  private args: { start: number; end: number | null; emitted: number } | null = null;
  private readonly out: ToolCallEvent[] = [];

  /** Calls whose name has been read. */
  callCount = 0;

  push(text: string): ToolCallEvent[] {
    this.buf += text;
    for (; this.pos < this.buf.length; this.pos++) this.step(this.buf[this.pos] as string, this.pos);
    this.emitArguments();
    return this.out.splice(0);
  }

  private step(ch: string, at: number): void {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (ch === "\\") this.escaped = true;
      else if (ch === '"') this.closeString(at);
      return;
    }
    if (ch === '"') {
      this.inString = true;
      if (this.depth === 1 && this.expect === "key") this.keyStart = at + 1;
      else if (this.depth === 1 && this.expect === "value") this.openValue(at);
    } else if (ch === "{" || ch === "[") {
      if (this.depth === 0) this.openCall();
      else if (this.depth === 1 && this.expect === "value") this.openValue(at);
      this.depth++;
    } else if (ch === "}" || ch === "]") {
      this.depth--;
      if (this.depth === 1 && this.value?.end === null) this.closeValue(at + 1);
      else if (this.depth === 0) {
        if (this.value?.end === null) this.closeValue(this.trimmedEnd(at));
        this.emitArguments();
        this.args = null;
      }
    } else if (this.depth === 1) {
      if (ch === ":" && this.expect === "colon") this.expect = "value";
      else if (ch === ",") {
        if (this.value?.end === null) this.closeValue(this.trimmedEnd(at));
        this.expect = "key";
      } else if (this.expect === "value" && !/\s/.test(ch)) this.openValue(at);
    }
  }

  /** End of a bare value (number, true, null) that stops at `at`, without trailing whitespace. */
  private trimmedEnd(at: number): number {
    let end = at;
    while (end > 0 && /\s/.test(this.buf[end - 1] as string)) end--;
    return end;
  }

  private openCall(): void {
    this.index++;
    this.named = false;
    this.expect = "key";
    this.value = null;
    this.args = null;
  }

  private openValue(at: number): void {
    const owner =
      this.key === "name" ? "name" : this.key === "parameters" || this.key === "arguments" ? "arguments" : "other";
    this.value = { owner, start: at, end: null };
    if (owner === "arguments") this.args = { start: at, end: null, emitted: at };
    this.expect = "afterValue";
  }

  private closeValue(end: number): void {
    const v = this.value;
    if (!v) return;
    v.end = end;
    if (v.owner === "arguments" && this.args) this.args.end = end;
    if (v.owner === "name" && !this.named) {
      this.named = true;
      this.callCount++;
      this.out.push({ type: "call", index: this.index, name: JSON.parse(this.buf.slice(v.start, end)) as string });
    }
  }

  private closeString(at: number): void {
    this.inString = false;
    if (this.depth !== 1) return;
    if (this.expect === "key") {
      this.key = JSON.parse(`"${this.buf.slice(this.keyStart, at)}"`) as string;
      this.expect = "colon";
    } else if (this.value?.end === null) this.closeValue(at + 1);
  }

  /** Arguments text read since the last call, once the call's name is out. */
  private emitArguments(): void {
    const a = this.args;
    if (!a || !this.named) return;
    const upTo = a.end ?? this.pos;
    if (upTo > a.emitted) {
      this.out.push({ type: "arguments", index: this.index, text: this.buf.slice(a.emitted, upTo) });
      a.emitted = upTo;
    }
  }
}
