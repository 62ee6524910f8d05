import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readSse } from "../../src/client/readSse.js";

/** The text as a body delivered in `size`-byte chunks (splitting events, lines and characters). */
async function* body(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

async function collect(text: string, size = 1_000_000): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const e of readSse(body(text, size))) out.push(e);
  return out;
}

describe("readSse", () => {
  it("skips keep-alive comments (llama-server sends `:` lines during a long prefill)", async () => {
    const text = ':\n\n: keep-alive\n\ndata: {"a":1}\n\n:\n\ndata: {"a":2}\n\ndata: [DONE]\n\n';
    assert.deepEqual(await collect(text), [{ a: 1 }, { a: 2 }]);
  });

  it("reads events split anywhere, CRLF line ends and multi-byte characters", async () => {
    const text = 'data: {"t":"héllo ✓"}\r\n\r\ndata: {"t":"😀"}\r\n\r\ndata: [DONE]\r\n\r\n';
    for (const size of [1, 2, 3, 7])
      assert.deepEqual(await collect(text, size), [{ t: "héllo ✓" }, { t: "😀" }], `chunks of ${size}`);
  });

  it("stops at [DONE] and throws a mid-stream error event", async () => {
    assert.deepEqual(await collect('data: {"a":1}\n\ndata: [DONE]\n\ndata: {"a":2}\n\n'), [{ a: 1 }]);
    await assert.rejects(collect('data: {"a":1}\n\ndata: {"error":{"message":"boom"}}\n\n'), /boom/);
  });
});
