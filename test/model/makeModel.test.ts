import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readGgufFileInfo } from "node-llama-cpp";
import { modelSpec } from "../../src/model/makeModel.js";
import { tinyModelPath } from "../helpers/testModel.js";

describe("make-model", () => {
  it("writes a GGUF that llama.cpp's reader accepts, with the Llama 3 tokenizer and template", async () => {
    const info = await readGgufFileInfo(tinyModelPath());
    const md = info.metadata;
    assert.equal(md.general.architecture, "llama");
    assert.equal(md.tokenizer.ggml.model, "gpt2");
    assert.equal(md.tokenizer.ggml.tokens.length, 128256);
    assert.equal(md.tokenizer.ggml.tokens[128009], "<|eot_id|>");
    assert.equal(md.tokenizer.ggml.bos_token_id, 128000);
    assert.match(md.tokenizer.chat_template ?? "", /<\|start_header_id\|>/);
    assert.equal(info.tensorInfo?.length, 3 + 2 * 9);
  });

  it("describes the exact Lunaris (Llama 3 8B) shape", () => {
    const { metadata, tensors } = modelSpec("lunaris", "q4_k_m");
    const u32 = (k: string) => (metadata.get(k) as { value: number }).value;
    assert.equal(u32("llama.block_count"), 32);
    assert.equal(u32("llama.embedding_length"), 4096);
    assert.equal(u32("llama.feed_forward_length"), 14336);
    assert.equal(u32("llama.attention.head_count"), 32);
    assert.equal(u32("llama.attention.head_count_kv"), 8);
    assert.equal(u32("llama.context_length"), 8192);
    const params = tensors.reduce((a, t) => a + t.dims.reduce((x, d) => x * d, 1), 0);
    assert.equal(params, 8_030_261_248); // Llama 3 8B's parameter count
    assert.equal(tensors.find((t) => t.name === "blk.0.attn_k.weight")?.dims.join("x"), "4096x1024");
  });

  it("writes the same weights for the same seed, other weights for another", () => {
    const firstBytes = (seed: number) => {
      const embd = modelSpec("tiny", "q8_0", seed).tensors[0];
      const chunk = Buffer.alloc(4096);
      embd?.fill(chunk, 0);
      return chunk;
    };
    assert.ok(firstBytes(7).equals(firstBytes(7)));
    assert.ok(!firstBytes(7).equals(firstBytes(8)));
    assert.ok(firstBytes(7).some((b) => b !== 0));
  });
});
