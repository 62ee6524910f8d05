import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { unlink } from "node:fs/promises";
import path from "node:path";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { commonPrefixLength } from "./Generation.js";

export interface PrefixStoreOptions {
  /** Folder for the state files: each store writes to a new folder in it, removed on close (a state only fits the model and context that wrote it). */
  dir: string;
  /** Most bytes of state kept; the least recently used go first. */
  maxBytes: number;
  /** Only a prefix at least this long is saved or loaded: below it, reading the tokens again is as cheap. */
  minTokens: number;
  log: (message: string) => void;
}

interface Entry {
  file: string;
  tokens: readonly Token[];
  bytes: number;
  usedAt: number;
}

/**
 * Prompt prefixes kept after their sequence moves on (llama-server's `--cache-ram` does the
 * same in memory). When a sequence that holds a long conversation is taken by a request that
 * shares little of it, its KV state is written to a file first; when that conversation comes
 * back, on whichever sequence is free, the state is loaded instead of the prompt being read
 * again. On a CPU an 8B model reads ~20 prompt tokens/s, so a 3,000-token chat would cost
 * minutes to rebuild; its state (128 KiB a token in F16) loads in a fraction of a second.
 * The files live in the page cache while memory allows, on disk past that.
 */
export class PrefixStore {
  private readonly entries: Entry[] = [];
  private bytes = 0;
  private written = 0;
  private readonly dir: string;

  constructor(private readonly options: PrefixStoreOptions) {
    mkdirSync(options.dir, { recursive: true });
    this.dir = mkdtempSync(path.join(options.dir, "store-"));
  }

  /**
   * Before `sequence` serves `prompt`: saves what the sequence holds if the prompt would drop
   * a long part of it, then loads the stored prefix that serves the prompt best when it beats
   * what the sequence already shares with it. Failures only cost the cache, never the request.
   */
  async prepare(sequence: LlamaContextSequence, prompt: readonly Token[]): Promise<void> {
    const held = sequence.contextTokens;
    const shared = commonPrefixLength(held, prompt);
    if (held.length - shared >= this.options.minTokens) await this.save(sequence, held);
    let best: Entry | null = null;
    let bestShared = shared + this.options.minTokens - 1;
    for (const e of this.entries) {
      const n = commonPrefixLength(e.tokens, prompt);
      if (n > bestShared) {
        best = e;
        bestShared = n;
      }
    }
    if (best) await this.load(sequence, best);
  }

  private async save(sequence: LlamaContextSequence, tokens: readonly Token[]): Promise<void> {
    // Already kept whole (the conversation was loaded from here and not extended)?
    if (this.entries.some((e) => e.tokens.length >= tokens.length && commonPrefixLength(e.tokens, tokens) === tokens.length)) return;
    const file = path.join(this.dir, `${Date.now()}-${this.written++}.state`);
    try {
      const { fileSize } = await sequence.saveStateToFile(file);
      // A kept prefix of this conversation is superseded by the longer one.
      for (const e of this.entries.filter((x) => x.tokens.length < tokens.length && commonPrefixLength(x.tokens, tokens) === x.tokens.length)) {
        await this.drop(e);
      }
      this.entries.push({ file, tokens, bytes: fileSize, usedAt: Date.now() });
      this.bytes += fileSize;
      while (this.bytes > this.options.maxBytes && this.entries.length > 0) {
        const oldest = this.entries.reduce((a, b) => (b.usedAt < a.usedAt ? b : a));
        await this.drop(oldest);
      }
    } catch (error) {
      this.options.log(`prefix cache: saving ${tokens.length} tokens failed: ${String(error)}`);
      await unlink(file).catch(() => undefined);
    }
  }

  private async load(sequence: LlamaContextSequence, entry: Entry): Promise<void> {
    entry.usedAt = Date.now();
    try {
      await sequence.loadStateFromFile(entry.file, { acceptRisk: true });
    } catch (error) {
      this.options.log(`prefix cache: loading ${entry.tokens.length} tokens failed: ${String(error)}`);
      await this.drop(entry);
      await sequence.clearHistory();
    }
  }

  private async drop(entry: Entry): Promise<void> {
    const i = this.entries.indexOf(entry);
    if (i === -1) return;
    this.entries.splice(i, 1);
    this.bytes -= entry.bytes;
    await unlink(entry.file).catch(() => undefined);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
