import type { Token } from "node-llama-cpp";
import type { TokenBytes } from "../tokenBytes.js";
import type { TokenLogprob } from "../types.js";

/** A token's log-probability and the `want.top` most likely alternatives (the Map is sorted, most likely first). */
export function describeLogprob(
  token: Token,
  probabilities: Map<Token, number> | undefined,
  p: number,
  want: { top: number; tokenBytes: TokenBytes },
): TokenLogprob {
  const describe = (t: number, prob: number) => ({
    token: t,
    text: want.tokenBytes.text(t),
    bytes: [...want.tokenBytes.bytes(t)],
    // A token outside the (truncated) distribution gets a very low value rather than -Infinity, which JSON cannot carry.
    logprob: prob > 0 ? Math.log(prob) : -9999,
  });
  const top: TokenLogprob["top"][number][] = [];
  if (probabilities) {
    for (const [t, prob] of probabilities) {
      if (top.length >= want.top) break;
      top.push(describe(t, prob));
    }
  }
  return { ...describe(token, p), top };
}
