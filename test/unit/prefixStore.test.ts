import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { PrefixStore } from "../../src/engine/llama/PrefixStore.js";

// The real store on a stand-in sequence: its "state" is its token list, so a load shows which
// saved prefix came back. The real engine path is in test/http/prefixCache.test.ts.
class FakeSequence {
  contextTokens: Token[] = [];
  constructor(private readonly canCopyToMemory: boolean) {}
  async saveStateToBuffer(): Promise<Buffer | null> {
    return this.canCopyToMemory ? Buffer.from(JSON.stringify(this.contextTokens)) : null;
  }
  async loadStateFromBuffer(state: Buffer, tokens: readonly Token[]): Promise<void> {
    assert.deepEqual(JSON.parse(state.toString()), tokens);
    this.contextTokens = [...tokens];
  }
  async saveStateToFile(file: string): Promise<{ fileSize: number }> {
    writeFileSync(file, JSON.stringify(this.contextTokens));
    return { fileSize: readFileSync(file).byteLength };
  }
  async loadStateFromFile(file: string): Promise<void> {
    this.contextTokens = JSON.parse(readFileSync(file, "utf8")) as Token[];
  }
  async clearHistory(): Promise<void> {
    this.contextTokens = [];
  }
}

const tokens = (from: number, n: number) => Array.from({ length: n }, (_, i) => (from + i) as Token);

function setup(canCopyToMemory: boolean, maxBytes = 1e9) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lunaris-prefix-"));
  const logs: string[] = [];
  const store = new PrefixStore({ dir, maxBytes, minTokens: 8, log: (m) => logs.push(m) });
  const seq = new FakeSequence(canCopyToMemory);
  const sequence = seq as unknown as LlamaContextSequence;
  const files = () =>
    existsSync(dir)
      ? readdirSync(dir, { recursive: true })
          .map(String)
          .filter((f) => f.endsWith(".state"))
      : [];
  return { store, seq, sequence, logs, files };
}

describe("PrefixStore", () => {
  it("keeps an evicted conversation in memory and brings it back for its next turn", async () => {
    const { store, seq, sequence, files } = setup(true);
    const chat = tokens(0, 20);
    seq.contextTokens = chat;
    await store.prepare(sequence, tokens(100, 20)); // unrelated: the chat is copied out
    assert.deepEqual(store.stats().entries, 1);
    seq.contextTokens = tokens(100, 20);
    await store.prepare(sequence, [...chat, ...tokens(50, 5)]); // the chat's next turn
    assert.deepEqual(seq.contextTokens, chat);
    assert.deepEqual(files(), [], "nothing written to disk");
  });

  it("leaves short prefixes alone and drops the least recently used past maxBytes", async () => {
    const { store, seq, sequence } = setup(true, 2 * Buffer.byteLength(JSON.stringify(tokens(1000, 20))));
    seq.contextTokens = tokens(0, 5); // under minTokens: not worth saving
    await store.prepare(sequence, tokens(100, 20));
    assert.equal(store.stats().entries, 0);
    for (const start of [1000, 2000, 3000]) {
      seq.contextTokens = tokens(start, 20);
      await store.prepare(sequence, tokens(100, 20));
    }
    assert.equal(store.stats().entries, 2);
    seq.contextTokens = tokens(100, 20);
    await store.prepare(sequence, tokens(1000, 25)); // the oldest is gone: nothing to load
    assert.deepEqual(seq.contextTokens, tokens(100, 20));
    await store.prepare(sequence, tokens(3000, 25));
    assert.deepEqual(seq.contextTokens, tokens(3000, 20));
  });

  it("a longer save of the same conversation replaces the shorter one", async () => {
    const { store, seq, sequence } = setup(true);
    seq.contextTokens = tokens(0, 20);
    await store.prepare(sequence, tokens(100, 20));
    seq.contextTokens = tokens(0, 40);
    await store.prepare(sequence, tokens(100, 20));
    assert.equal(store.stats().entries, 1);
  });

  it("falls back to files when the addon cannot copy states to memory, and removes them on close", async () => {
    const { store, seq, sequence, logs, files } = setup(false);
    seq.contextTokens = tokens(0, 20);
    await store.prepare(sequence, tokens(100, 20));
    assert.equal(files().length, 1);
    assert.match(logs.join("\n"), /using files/);
    seq.contextTokens = tokens(100, 20);
    await store.prepare(sequence, tokens(0, 30));
    assert.deepEqual(seq.contextTokens, tokens(0, 20));
    store.close();
    assert.deepEqual(files(), []);
  });
});
