import type { TokenBytes } from "../tokenBytes.js";

/**
 * Keeps grammar-constrained output valid UTF-8.
 *
 * llama.cpp's grammar reads token bytes leniently: inside a token it never checks that a
 * continuation byte is 10xxxxxx, it takes F5–FF as four-byte leads, and it decodes overlong
 * forms and surrogates into code points. So a JSON string under a schema could gain bytes no
 * UTF-8 decoder accepts; they come out as U+FFFD, one per byte, which breaks `maxLength` and
 * patterns (a CI run of the random model wrote four of them into a two-character string).
 * Before each token is sampled, the guard bans the tokens whose bytes would make the output
 * invalid, following a strict UTF-8 decoder across token boundaries.
 *
 * The guard never leaves the grammar without a way on: the grammar allows a lead byte only
 * when one of its completions is a character it accepts, and it counts a bare E0 or F0 lead as
 * completing to U+0800 or U+10000 and up, the valid ranges, so a valid completion exists.
 */

/** Between characters. */
const ACCEPT = 0;
const REJECT = -1;

/** Inside a character: [lowest, highest next byte, state after it]. */
const CONTINUATION: Readonly<Record<number, readonly [number, number, number]>> = {
  1: [0x80, 0xbf, ACCEPT], // one byte left
  2: [0x80, 0xbf, 1], // two left
  3: [0xa0, 0xbf, 1], // after E0: no overlong three-byte forms
  4: [0x80, 0x9f, 1], // after ED: no surrogates
  5: [0x80, 0xbf, 2], // three left
  6: [0x90, 0xbf, 2], // after F0: no overlong four-byte forms
  7: [0x80, 0x8f, 2], // after F4: nothing above U+10FFFF
};

function afterLead(b: number): number {
  if (b < 0x80) return ACCEPT;
  if (b >= 0xc2 && b <= 0xdf) return 1;
  if (b === 0xe0) return 3;
  if (b === 0xed) return 4;
  if (b >= 0xe1 && b <= 0xef) return 2;
  if (b === 0xf0) return 6;
  if (b >= 0xf1 && b <= 0xf3) return 5;
  if (b === 0xf4) return 7;
  return REJECT; // continuation bytes, C0, C1 (overlong two-byte forms), F5–FF
}

/** The strict decoder's state after `bytes`, or REJECT. */
export function utf8After(state: number, bytes: Uint8Array): number {
  let s = state;
  for (const b of bytes) {
    if (s === ACCEPT) s = afterLead(b);
    else {
      const c = CONTINUATION[s] as readonly [number, number, number];
      s = b >= c[0] && b <= c[1] ? c[2] : REJECT;
    }
    if (s === REJECT) return REJECT;
  }
  return s;
}

/** Each token's effect on the decoder, for one vocabulary (built once per model). */
export class Utf8Vocabulary {
  /** Every token's bytes in one buffer (token t: bytes[offsets[t]] up to offsets[t + 1]). */
  private readonly bytes: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly fromAccept: Int8Array;
  private readonly bannedIn = new Map<number, readonly number[]>();

  constructor(tokenBytes: Pick<TokenBytes, "size" | "uncached">) {
    const all = Array.from({ length: tokenBytes.size }, (_, t) => tokenBytes.uncached(t));
    this.offsets = new Int32Array(all.length + 1);
    for (let t = 0; t < all.length; t++)
      this.offsets[t + 1] = (this.offsets[t] as number) + (all[t] as Uint8Array).length;
    this.bytes = new Uint8Array(this.offsets[all.length] as number);
    all.forEach((b, t) => this.bytes.set(b, this.offsets[t]));
    this.fromAccept = Int8Array.from(all, (b) => utf8After(ACCEPT, b));
  }

  after(state: number, token: number): number {
    if (state === ACCEPT) return this.fromAccept[token] ?? REJECT;
    return utf8After(state, this.bytes.subarray(this.offsets[token], this.offsets[token + 1]));
  }

  /** Tokens whose bytes cannot follow in `state` (computed once per state). */
  banned(state: number): readonly number[] {
    let list = this.bannedIn.get(state);
    if (!list) {
      const out: number[] = [];
      for (let t = 0; t < this.fromAccept.length; t++) if (this.after(state, t) === REJECT) out.push(t);
      list = out;
      this.bannedIn.set(state, list);
    }
    return list;
  }
}

/** One output's guard: follows the generated tokens and says what to ban before each sample. */
export class Utf8Guard {
  private state = ACCEPT;
  private seen = 0;

  constructor(private readonly vocab: Utf8Vocabulary) {}

  /**
   * The tokens to ban before the next one, given every token generated so far. Between
   * characters that is a fixed list of a few thousand; inside one, nearly the whole vocabulary
   * (only continuations may follow). `state` names the list, for callers that build from it once.
   */
  next(generated: readonly number[]): { state: number; banned: readonly number[] } {
    for (; this.seen < generated.length; this.seen++) {
      const s = this.vocab.after(this.state, generated[this.seen] as number);
      // A banned token cannot have been sampled; should one ever be, start afresh.
      this.state = s === REJECT ? ACCEPT : s;
    }
    return { state: this.state, banned: this.vocab.banned(this.state) };
  }
}
