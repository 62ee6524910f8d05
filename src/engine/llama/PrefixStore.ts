import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { unlink } from "node:fs/promises";
import path from "node:path";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { alignedPrefix, setAlignedPrefix } from "./alignment.js";
import { commonPrefixLength } from "./tokens.js";

export interface PrefixStoreOptions {
  /** Folder for state files, used only when the engine cannot copy states to memory: each store writes to a new folder in it, removed on close (a state only fits the model and context that wrote it). */
  dir: string;
  /** Most bytes of state kept; the least recently used go first. */
  maxBytes: number;
  /** Only a prefix at least this long is saved or loaded: below it, reading the tokens again is as cheap. */
  minTokens: number;
  log: (message: string) => void;
}

/** A saved state: in memory (our patched addon), or a file (node-llama-cpp's prebuilt addon). */
type Saved = { state: Buffer; file?: never } | { file: string; state?: never };

/** `aligned`: how many of its tokens were read in aligned chunks (alignment.ts), restored with it. */
type Entry = Saved & { tokens: readonly Token[]; bytes: number; usedAt: number; aligned: number };

export interface PrefixStoreStats {
  entries: number;
  bytes: number;
}

/**
 * Prompt prefixes kept after their sequence moves on, in memory as llama-server's `--cache-ram`
 * keeps them. When a sequence that holds a long conversation is taken by a request that shares
 * little of it, its KV state is copied out first; when that conversation comes back, on
 * whichever sequence is free, the state is copied in instead of the prompt being read again.
 * On a CPU an 8B model reads ~20 prompt tokens/s, so a 3,000-token chat would cost minutes to
 * rebuild; its state (128 KiB a token in F16) loads in a fraction of a second.
 *
 * The copy is what the request that takes the sequence waits for, and it holds the context, so
 * every other stream waits too. The 577-token state of the 8B shape (72 MiB) took 78-252 ms to
 * copy into fresh memory on a 2-core VM, most of it the kernel clearing new pages, and 142-211
 * ms to write to a file; loading it back 6-7 ms (docs/engine.md, "Prefix store"). Files remain the
 * fallback where the addon lacks the in-memory copy (no local engine build).
 */
export class PrefixStore {
  private readonly entries: Entry[] = [];
  private bytes = 0;
  private written = 0;
  private dir: string | null = null;
  /** Until the addon says it cannot (node-llama-cpp's prebuilt binaries lack our patch). */
  private inMemory = true;

  constructor(private readonly options: PrefixStoreOptions) {}

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

  stats(): PrefixStoreStats {
    return { entries: this.entries.length, bytes: this.bytes };
  }

  private async save(sequence: LlamaContextSequence, tokens: readonly Token[]): Promise<void> {
    // Already kept whole (the conversation was loaded from here and not extended)?
    if (
      this.entries.some(
        (e) => e.tokens.length >= tokens.length && commonPrefixLength(e.tokens, tokens) === tokens.length,
      )
    )
      return;
    let file: string | null = null;
    try {
      let saved: Saved;
      let bytes: number;
      const state = await this.copyToMemory(sequence);
      if (state) {
        saved = { state };
        bytes = state.byteLength;
      } else {
        file = this.nextFile();
        saved = { file };
        bytes = (await sequence.saveStateToFile(file)).fileSize;
      }
      // A kept prefix of this conversation is superseded by the longer one.
      for (const e of this.entries.filter(
        (x) => x.tokens.length < tokens.length && commonPrefixLength(x.tokens, tokens) === x.tokens.length,
      )) {
        await this.drop(e);
      }
      this.entries.push({
        ...saved,
        tokens,
        bytes,
        usedAt: Date.now(),
        aligned: Math.min(alignedPrefix(sequence), tokens.length),
      });
      this.bytes += bytes;
      while (this.bytes > this.options.maxBytes && this.entries.length > 0) {
        const oldest = this.entries.reduce((a, b) => (b.usedAt < a.usedAt ? b : a));
        await this.drop(oldest);
      }
    } catch (error) {
      this.options.log(`prefix cache: saving ${tokens.length} tokens failed: ${String(error)}`);
      if (file !== null) await unlink(file).catch(() => undefined);
    }
  }

  /** The sequence's state as a Buffer, or null once the addon has said it cannot copy to memory. */
  private async copyToMemory(sequence: LlamaContextSequence): Promise<Buffer | null> {
    if (!this.inMemory) return null;
    const state = await sequence.saveStateToBuffer();
    if (state === null) {
      this.inMemory = false;
      this.options.log(
        "prefix cache: the engine addon cannot copy states to memory (not our local build); using files",
      );
    }
    return state;
  }

  private nextFile(): string {
    if (this.dir === null) {
      mkdirSync(this.options.dir, { recursive: true });
      this.dir = mkdtempSync(path.join(this.options.dir, "store-"));
    }
    return path.join(this.dir, `${Date.now()}-${this.written++}.state`);
  }

  private async load(sequence: LlamaContextSequence, entry: Entry): Promise<void> {
    entry.usedAt = Date.now();
    try {
      setAlignedPrefix(sequence, 0);
      if (entry.state) await sequence.loadStateFromBuffer(entry.state, entry.tokens, { acceptRisk: true });
      else await sequence.loadStateFromFile(entry.file, { acceptRisk: true });
      setAlignedPrefix(sequence, entry.aligned);
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
    if (entry.file) await unlink(entry.file).catch(() => undefined);
  }

  close(): void {
    this.entries.length = 0;
    this.bytes = 0;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
