/**
 * Which upstream serves a request. Cache-aware routing (after SGLang's model gateway and vLLM
 * production-stack's prefix-aware router): each upstream remembers, approximately, the prompt
 * prefixes sent to it, as chained hashes of fixed-size blocks of the prompt's text (bounded,
 * least recently used dropped). A request goes to the upstream holding the longest part of its
 * prompt when that is at least `cacheThreshold` of it and that upstream is not overloaded
 * against the least-loaded one; otherwise to the least-loaded. Load is the gateway's own count of
 * in-flight requests divided by weight: without a local count, affinity piles every request
 * onto one engine (the bug the research notes found most often in such routers).
 */
export type RoutingPolicy = "cache-aware" | "least-loaded" | "round-robin";

export interface RouterOptions {
  policy: RoutingPolicy;
  /** Characters per block: the unit a prefix is matched in. */
  blockChars: number;
  /** Blocks remembered per upstream. */
  maxBlocks: number;
  /** Least share of the prompt an upstream must hold for affinity to count (SGLang: 0.3). */
  cacheThreshold: number;
  /** Affinity is ignored when the holder's load exceeds the least-loaded one's by both of these. */
  balanceAbs: number;
  balanceRel: number;
}

export const DEFAULT_ROUTER: RouterOptions = {
  policy: "cache-aware",
  blockChars: 64,
  maxBlocks: 200_000, // ~12 MiB of text per upstream, remembered as ~16 MiB of Map entries
  cacheThreshold: 0.3,
  // SGLang's 64 / 1.5x are for GPU engines with hundreds of slots; a CPU node runs 4 at a time.
  balanceAbs: 4,
  balanceRel: 1.5,
};

export interface Candidate {
  id: string;
  inFlight: number;
  weight: number;
}

export interface Route {
  /** Index into the candidates. */
  index: number;
  /** Blocks of the prompt the chosen upstream was remembered to hold, and the prompt's blocks. */
  matchedBlocks: number;
  totalBlocks: number;
}

/** Chained 52-bit hashes of the text's whole blocks: block i's hash covers the text up to its end. */
export function blockHashes(text: string, blockChars: number): number[] {
  const out: number[] = [];
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  const whole = text.length - (text.length % blockChars);
  for (let i = 0; i < whole; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
    if ((i + 1) % blockChars === 0) out.push((h1 >>> 0) * 2 ** 20 + ((h2 >>> 0) & 0xfffff));
  }
  return out;
}

/** A prompt as the router takes it: its text, or the block hashes of it (`blocks()`, computed once a request). */
export type PromptKey = string | readonly number[];

export class PrefixRouter {
  private readonly held = new Map<string, Map<number, true>>();
  private turn = 0;

  constructor(readonly options: RouterOptions = DEFAULT_ROUTER) {}

  /** Picks among the candidates (at least one) for a prompt's routing key. */
  /** The prompt's block hashes, once per request (none when the policy ignores prefixes). */
  blocks(key: string): readonly number[] {
    return this.options.policy === "cache-aware" ? blockHashes(key, this.options.blockChars) : [];
  }

  private hashesOf(key: PromptKey): readonly number[] {
    return typeof key === "string" ? this.blocks(key) : key;
  }

  choose(key: PromptKey, candidates: readonly Candidate[]): Route {
    const load = (c: Candidate) => c.inFlight / c.weight;
    if (this.options.policy === "round-robin")
      return { index: this.turn++ % candidates.length, matchedBlocks: 0, totalBlocks: 0 };
    const least = this.leastLoaded(candidates);
    if (this.options.policy === "least-loaded") return { index: least, matchedBlocks: 0, totalBlocks: 0 };
    const hashes = this.hashesOf(key);
    let best = -1;
    let bestMatch = 0;
    candidates.forEach((c, i) => {
      const m = this.matched(c.id, hashes);
      const better = m > bestMatch || (m === bestMatch && best !== -1 && load(c) < load(candidates[best] as Candidate));
      if (m > 0 && better) {
        best = i;
        bestMatch = m;
      }
    });
    const minLoad = load(candidates[least] as Candidate);
    if (best !== -1 && bestMatch >= this.options.cacheThreshold * hashes.length) {
      const l = load(candidates[best] as Candidate);
      const overloaded = l - minLoad >= this.options.balanceAbs && l >= this.options.balanceRel * minLoad;
      if (!overloaded) return { index: best, matchedBlocks: bestMatch, totalBlocks: hashes.length };
    }
    return {
      index: least,
      matchedBlocks: best === least ? bestMatch : this.matched((candidates[least] as Candidate).id, hashes),
      totalBlocks: hashes.length,
    };
  }

  /** Records that `id` now holds the prompt (or prompt and reply) `key`. */
  remember(id: string, key: PromptKey): void {
    if (this.options.policy !== "cache-aware") return;
    let set = this.held.get(id);
    if (!set) this.held.set(id, (set = new Map()));
    for (const h of this.hashesOf(key)) {
      set.delete(h);
      set.set(h, true);
    }
    for (const h of set.keys()) {
      if (set.size <= this.options.maxBlocks) break;
      set.delete(h);
    }
  }

  /** An upstream that restarted holds nothing any more. */
  forget(id: string): void {
    this.held.delete(id);
  }

  /** Blocks remembered for an upstream. */
  size(id: string): number {
    return this.held.get(id)?.size ?? 0;
  }

  private matched(id: string, hashes: readonly number[]): number {
    const set = this.held.get(id);
    if (!set) return 0;
    let n = 0;
    while (n < hashes.length && set.has(hashes[n] as number)) n++;
    return n;
  }

  /** Least load; ties to the one holding least (spreads new chats, as SGLang does), then in turn. */
  private leastLoaded(candidates: readonly Candidate[]): number {
    const start = this.turn++ % candidates.length;
    let best = start;
    for (let k = 1; k < candidates.length; k++) {
      const i = (start + k) % candidates.length;
      const a = candidates[i] as Candidate;
      const b = candidates[best] as Candidate;
      const la = a.inFlight / a.weight;
      const lb = b.inFlight / b.weight;
      if (la < lb || (la === lb && this.size(a.id) < this.size(b.id))) best = i;
    }
    return best;
  }
}
