/**
 * The exact bytes of each vocabulary token, for logprobs' `bytes` field. Llama 3 stores
 * tokens in GPT-2's byte-level alphabet (every byte mapped to a printable code point), so
 * a token that is half of a UTF-8 character still has well-defined bytes even though it
 * has no text of its own.
 */
function byteDecoder(): Map<number, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const decoder = new Map<number, number>();
  for (const b of printable) decoder.set(b, b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) decoder.set(256 + n++, b);
  }
  return decoder;
}

/** GGUF token types: 3 = control, 4 = user-defined; their text is stored as-is. */
const VERBATIM_TYPES = new Set([3, 4]);

export class TokenBytes {
  private readonly decoder = byteDecoder();
  private readonly cache = new Map<number, Uint8Array>();
  private readonly utf8 = new TextDecoder("utf-8", { fatal: false });

  constructor(
    private readonly tokens: readonly string[],
    private readonly types: readonly number[],
  ) {}

  get size(): number {
    return this.tokens.length;
  }

  bytes(token: number): Uint8Array {
    let b = this.cache.get(token);
    if (!b) {
      b = this.uncached(token);
      this.cache.set(token, b);
    }
    return b;
  }

  /** The bytes without keeping them: for passes over the whole vocabulary. */
  uncached(token: number): Uint8Array {
    const piece = this.tokens[token] ?? "";
    if (VERBATIM_TYPES.has(this.types[token] ?? 1)) return new TextEncoder().encode(piece);
    return Uint8Array.from([...piece].map((ch) => this.decoder.get(ch.codePointAt(0) ?? 0) ?? 0x3f));
  }

  /**
   * The text of a run of generated tokens: their bytes joined, control tokens left out (as
   * llama.cpp renders them without `special`), incomplete UTF-8 as U+FFFD. This is what
   * llama-server streams (token pieces, concatenated) and what vLLM's incremental detokenizer
   * gives; llama.cpp's whole-sequence detokenize also applies Llama 3's "clean up spaces", which
   * drops the space of tokens like " ?" or " ," (code and logprobs `bytes` would disagree).
   * `special` keeps control tokens as their text (`<|eot_id|>`), as llama-server's /detokenize
   * and an echoed token prompt show them.
   */
  decode(tokens: readonly number[], o: { special?: boolean } = {}): string {
    const kept = o.special === true ? tokens : tokens.filter((t) => this.types[t] !== 3);
    const parts = kept.map((t) => this.bytes(t));
    return this.utf8.decode(Buffer.concat(parts));
  }

  /** The token's text; bytes that are not valid UTF-8 on their own become U+FFFD. */
  text(token: number): string {
    return this.utf8.decode(this.bytes(token));
  }
}
