import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { TEST_CACHE } from "../helpers/testModel.js";
import { MODEL_ID, type TestServer, startTestServer } from "../helpers/testServer.js";

// One sequence each, so a second conversation always takes the first one's sequence.
let withStore: TestServer;
let freshStore: TestServer;
let withoutStore: TestServer;
let plain: TestServer;
before(async () => {
  withStore = await startTestServer({ parallel: 1 });
  freshStore = await startTestServer({ parallel: 1 });
  withoutStore = await startTestServer({ parallel: 1, prefixCacheGib: 0 });
  plain = await startTestServer({ parallel: 1 });
});
after(async () => {
  await Promise.all([withStore.close(), freshStore.close(), withoutStore.close(), plain.close()]);
});

const system: ChatCompletionMessageParam = {
  role: "system",
  content: "You are a patient storyteller who remembers every detail. ".repeat(30),
};
const turn1: ChatCompletionMessageParam[] = [system, { role: "user", content: "Tell me about the lighthouse." }];

async function ask(srv: TestServer, messages: ChatCompletionMessageParam[], seed: number) {
  const r = await srv.client.chat.completions.create({
    model: MODEL_ID,
    messages,
    max_tokens: 12,
    seed,
    temperature: 1,
  });
  const cached =
    (r.usage as { prompt_tokens_details?: { cached_tokens?: number } }).prompt_tokens_details?.cached_tokens ?? 0;
  return { text: r.choices[0]?.message.content ?? "", prompt: r.usage?.prompt_tokens ?? 0, cached };
}

/** Turn 1 of the long chat, a short unrelated chat on the same (only) sequence, then turn 2. */
async function evictedAndBack(srv: TestServer) {
  const t1 = await ask(srv, turn1, 1);
  await ask(srv, [{ role: "user", content: "Something else entirely." }], 2);
  const turn2 = [
    ...turn1,
    { role: "assistant" as const, content: t1.text },
    { role: "user" as const, content: "And the keeper?" },
  ];
  return { t1, t2: await ask(srv, turn2, 3), turn2 };
}

describe("prefix cache: a conversation whose sequence was reused", () => {
  it("comes back from the saved state: turn 2 reads only what follows turn 1's prompt", async () => {
    const { t1, t2 } = await evictedAndBack(withStore);
    assert.ok(t1.prompt > 300, `turn 1 prompt ${t1.prompt} tokens`);
    // Seeded (reproducible) requests reuse their cache up to a 64-token boundary of the prompt
    // read before: the reply, decoded a token at a time, is read again (see "one seed, one text").
    assert.ok(
      t2.cached >= t1.prompt - (t1.prompt % 64),
      `turn 2 cached ${t2.cached} of ${t2.prompt}; turn 1 had ${t1.prompt}`,
    );
    assert.ok(t2.cached < t2.prompt);
    // Kept in memory (our engine build copies states out), so no state file was written.
    const m = await (await fetch(`${withStore.url}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(m)?.[1]);
    assert.equal(gauge("lunaris_prefix_store_entries"), 1, m);
    assert.ok(gauge("lunaris_prefix_store_bytes") > 0, m);
    const mine = path.join(TEST_CACHE, "prefix-cache", String(process.pid));
    const files = existsSync(mine) ? readdirSync(mine, { recursive: true }).map(String) : [];
    assert.deepEqual(
      files.filter((f) => f.endsWith(".state")),
      [],
    );
  });

  it("is re-read from scratch without the store", async () => {
    const { t1, t2 } = await evictedAndBack(withoutStore);
    assert.ok(t2.cached < 50, `turn 2 cached ${t2.cached}; turn 1 had ${t1.prompt}`);
  });

  it("gives the same reply as when the sequence kept the conversation", async () => {
    // Both servers fresh, so turn 1 runs alike on both and leaves the same state.
    const { t2, turn2 } = await evictedAndBack(freshStore);
    await ask(plain, turn1, 1);
    const kept = await ask(plain, turn2, 3);
    assert.equal(kept.cached, t2.cached);
    assert.equal(t2.text, kept.text);
  });
});

describe("prefix cache: which sequence a new conversation takes", () => {
  it("a one-off prompt takes the sequence with little cached, leaving the long conversation in place", async () => {
    // No store: turn 2 can only be served from the conversation's own sequence.
    const srv = await startTestServer({ parallel: 2, prefixCacheGib: 0 });
    try {
      const t1 = await ask(srv, turn1, 1);
      // Both share only the chat header with the conversation's sequence: neither may take it,
      // although it is the least recently used.
      await ask(srv, [{ role: "user", content: "Something else entirely." }], 2);
      await ask(srv, [{ role: "user", content: "And a third thing." }], 3);
      const t2 = await ask(
        srv,
        [...turn1, { role: "assistant", content: t1.text }, { role: "user", content: "And the keeper?" }],
        4,
      );
      assert.ok(
        t2.cached >= t1.prompt - (t1.prompt % 64),
        `turn 2 cached ${t2.cached} of ${t2.prompt}; turn 1 had ${t1.prompt}`,
      );
    } finally {
      await srv.close();
    }
  });
});

describe("one seed, one text, whether the prompt was cached or not", () => {
  // A reply decoded a token at a time, or a prompt read in other batches, gives llama.cpp other
  // numbers; with random weights (nearly flat logits) greedy text then diverged after 4-10 tokens.
  const chat = async (messages: ChatCompletionMessageParam[], seed: number, temperature: number) => {
    // No prefix store: the evicted conversation is really gone, so "cold" reads it all.
    const r = await withoutStore.client.chat.completions.create({
      model: MODEL_ID,
      messages,
      max_tokens: 16,
      seed,
      temperature,
    });
    const cached =
      (r.usage as { prompt_tokens_details?: { cached_tokens?: number } }).prompt_tokens_details?.cached_tokens ?? 0;
    return { text: r.choices[0]?.message.content ?? "", cached };
  };
  const evict = () => chat([{ role: "user", content: "Something else entirely." }], 1, 1);

  it("a chat's second turn gives the same text warm (from its cached first turn) as cold", async () => {
    for (const [seed, temperature] of [
      [1, 0],
      [2, 0],
      [3, 1],
      [4, 1],
      [5, 1.5],
    ] as const) {
      await evict();
      const first = await chat(turn1, seed, temperature);
      const turn2: ChatCompletionMessageParam[] = [
        ...turn1,
        { role: "assistant", content: first.text },
        { role: "user", content: "And then?" },
      ];
      const warm = await chat(turn2, seed, temperature);
      assert.ok(warm.cached > 0, "the first turn's prompt came from the cache");
      assert.equal(warm.cached % 64, 0, "reused up to a 64-token boundary");
      await evict();
      const cold = await chat(turn2, seed, temperature);
      assert.equal(
        cold.cached,
        0,
        "cold: the evicting prompt shares only the template's first tokens, less than a chunk",
      );
      assert.equal(warm.text, cold.text, `seed ${seed}, temperature ${temperature}`);
      const again = await chat(turn2, seed, temperature);
      assert.equal(again.text, cold.text, "the same prompt again, fully cached");
    }
  });
});
