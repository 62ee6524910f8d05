/**
 * Which free sequence a queued prompt takes: a pure function of what each sequence holds, so
 * its margins are table-tested (test/unit/sequenceChoice.test.ts). The Scheduler calls it.
 */

/**
 * How many more tokens a sequence holding a long conversation must share with a prompt than a
 * sequence holding little, to be taken instead. Every Llama 3 chat shares its first 5 tokens,
 * and one more in common (two prompts opening with the same word) must not send a request onto
 * a long cached conversation, whose state is then copied out (72 MiB for 577 tokens of the 8B
 * model, 78–252 ms on a 2-core VM) and lost from the sequence, to spare one token of reading.
 */
export const LONG_CACHE_MARGIN = 16;

/**
 * How many more tokens a free sequence must share with a prompt to be taken over one that keeps
 * the busy sequences in one run of consecutive ids. llama.cpp decodes each run as a ubatch of
 * its own (split_equal takes ids that ascend one by one), so two streams on sequences 0 and 2
 * pay two passes over the weights at every step: on the 8B shape on a 2-core EPYC VM ~2 × 165
 * ms a step instead of ~290. Reading 64 tokens more costs about 4 s on that CPU (16 tokens/s), what
 * two dozen steps lose with the extra pass; on a GPU the extra pass costs far more tokens'
 * worth. A conversation returning to its own sequence shares hundreds of tokens and still goes
 * there.
 */
export const CONTIGUITY_MARGIN = 64;

/** A sequence as the choice sees it. */
export interface SequenceView {
  busy: boolean;
  /** Tokens it holds. */
  held: number;
  /** Of those, how many the prompt shares (its common prefix). */
  shared: number;
  lastUsedAt: number;
}

interface Candidate {
  index: number;
  shared: number;
  lastUsedAt: number;
  runs: number;
}

/** More shared tokens first; ties to the least recently used, keeping fresher caches for later turns. */
function sharesMore(a: Candidate, b: Candidate): boolean {
  return a.shared !== b.shared ? a.shared > b.shared : a.lastUsedAt < b.lastUsedAt;
}

/** Runs of consecutive busy sequences (views are in sequence-id order) if sequence `taken` were busy too. */
function busyRunsWith(views: readonly SequenceView[], taken: number): number {
  let runs = 0;
  let previous = false;
  for (const [i, v] of views.entries()) {
    const busy = v.busy || i === taken;
    if (busy && !previous) runs++;
    previous = busy;
  }
  return runs;
}

/**
 * The free sequence sharing the prompt's longest prefix, except that one that would give up a
 * long cache (`longCacheTokens` or more past the shared part) is taken only when it shares
 * LONG_CACHE_MARGIN tokens more than the best of the others: a one-off prompt does not evict a
 * chat that may return. Among sequences sharing about as much (within CONTIGUITY_MARGIN), the
 * one keeping the busy sequences in the fewest runs of consecutive ids wins, then the longer
 * share, then the least recently used. Null when none is free.
 */
export function chooseSequence(views: readonly SequenceView[], longCacheTokens: number): number | null {
  const cheap: Candidate[] = [];
  let costly: Candidate | null = null;
  for (const [index, v] of views.entries()) {
    if (v.busy) continue;
    const c: Candidate = { index, shared: v.shared, lastUsedAt: v.lastUsedAt, runs: busyRunsWith(views, index) };
    if (v.held - v.shared < longCacheTokens) cheap.push(c);
    else if (!costly || sharesMore(c, costly)) costly = c;
  }
  const mostShared = Math.max(-1, ...cheap.map((c) => c.shared));
  let best: Candidate | null = null;
  for (const c of cheap) {
    if (c.shared + CONTIGUITY_MARGIN <= mostShared) continue;
    if (!best || c.runs < best.runs || (c.runs === best.runs && sharesMore(c, best))) best = c;
  }
  if (costly && (!best || costly.shared >= mostShared + LONG_CACHE_MARGIN)) best = costly;
  return best?.index ?? null;
}
